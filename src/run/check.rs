//! The second phase: what Cognito and the files say before anything is
//! sent. The report is claimed (a resume's report verified and locked),
//! every pool described, the rates set (`--rate auto`), the caller named,
//! a listing's first page fetched, what earlier runs left read, and
//! AdminGetUser probed where the run depends on it. Read-only.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::prepare::{Context, Prepared, Service};
use crate::answers::{self, PoolAnswers, Predicted};
use crate::audit::PoolRecord;
use crate::cognito::Identity;
use crate::config::RateSpec;
use crate::exit::StartError;
use crate::input::{Excluded, Exclusions, Input, Lister, Source};
use crate::journal::{Header, Sticky};
use crate::keys::row_key;
use crate::outputs::{self, Claim, Want};
use crate::pool::Pools;
use crate::preflight::{self, Ask, PoolMap};
use crate::resume::{self, Earlier, Expect};

/// What the preflight found.
pub struct Found {
    /// The pools: regions, clients, case rules, settings.
    pub pools: Arc<PoolMap>,
    /// The caller, for the audit record.
    pub identity: Result<Identity, String>,
    /// Lines for the plan.
    pub notes: Vec<String>,
    /// AdminGetUser is permitted: refusals are classified, lost answers
    /// checked.
    pub checks_permitted: bool,
    /// A real run: what the dry run of the same input predicted.
    pub predicted: Option<Predicted>,
    /// `--overwrite` of a report that records users as reset or disabled:
    /// how many, who will be reset again.
    pub overwrites_done: usize,
    /// A file's distinct users per pool that the run may call, estimated
    /// (the plan's estimates, the codes it may send).
    pub to_call: Option<BTreeMap<String, u64>>,
}

impl Found {
    /// The pools as the audit record lists them.
    pub fn pool_records(&self) -> Vec<PoolRecord> {
        self.pools
            .facts()
            .map(|f| PoolRecord {
                id: f.id.clone(),
                region: f.region.clone(),
                recovery: f.info.as_ref().map(|i| i.recovery.clone()),
                email_sending_account: f
                    .info
                    .as_ref()
                    .and_then(|i| i.email_sending_account.clone()),
                case_sensitive: f.info.as_ref().and_then(|i| i.case_sensitive),
                notes: f.notes.clone(),
                answers: PoolAnswers::before(
                    f.app_clients.as_deref(),
                    self.predicted.as_ref(),
                    &f.id,
                ),
            })
            .collect()
    }
}

/// The run, checked: ready for the plan.
pub struct Checked {
    /// What every phase shares.
    pub ctx: Context,
    /// Where the rows come from (a listing's first page fetched).
    pub input: Input,
    /// `--exclude`.
    pub exclusions: Exclusions,
    /// Where calls go.
    pub service: Service,
    /// What the report belongs to.
    pub header: Header,
    /// What the preflight found.
    pub found: Found,
    /// How the report is taken.
    pub claim: Claim,
    /// What earlier runs of the report left.
    pub earlier: Arc<Earlier>,
}

/// Checks everything that can be checked before anything is sent.
pub async fn check(p: Prepared) -> Result<Checked, StartError> {
    let Prepared {
        ctx,
        input,
        exclusions,
        service,
        header,
    } = p;
    let want = Want {
        config: &ctx.config,
        header: &header,
        input: input.file(),
        sticky: &Sticky::default(),
    };
    let mut claim = outputs::claim(&want)?;
    let mut notes = Vec::new();
    let mut exclusions = sticky_exclusions(exclusions, &claim, &mut notes);
    let predicted = predicted_for(&ctx, &header, &input, &mut notes);
    let resumed = matches!(claim, Claim::Resume(_)).then_some(ctx.config.report.as_path());
    let to_call = to_call(&input, resumed, &exclusions);
    let pools = describe(
        &ctx,
        &service,
        &input,
        predicted.as_ref(),
        to_call.clone(),
        &mut notes,
    )
    .await?;
    let identity = identity(&service, &pools).await;
    let input = first_page(&ctx, &pools, input).await?;
    let mut earlier = read_earlier(&ctx, &header, &pools, &mut claim, &mut notes)?;
    let elsewhere = Elsewhere {
        earlier: &mut earlier,
        exclusions: &mut exclusions,
        notes: &mut notes,
    };
    read_elsewhere(&ctx, &pools, &claim, elsewhere)?;
    let checks_permitted = probe(&ctx, &pools, &input, &earlier, &mut notes).await?;
    let found = Found {
        overwrites_done: overwrites_done(&ctx, &pools, &claim, &earlier),
        pools,
        identity,
        notes,
        checks_permitted,
        predicted,
        to_call,
    };
    Ok(Checked {
        ctx,
        input,
        exclusions,
        service,
        header,
        found,
        claim,
        earlier: Arc::new(earlier),
    })
}

/// Who the calls run as, asked in the first pool's region.
async fn identity(service: &Service, pools: &PoolMap) -> Result<Identity, String> {
    let region = pools.regions().into_iter().next();
    let region = region.unwrap_or_else(|| "us-east-1".into());
    preflight::identity(&service.aws, &region).await
}

/// The dry run's predictions, told how many distinct users this input has
/// (a dry run that stopped part way is then read as partial).
fn predicted_for(
    ctx: &Context,
    header: &Header,
    input: &Input,
    notes: &mut Vec<String>,
) -> Option<Predicted> {
    let mut predicted = predicted(ctx, header, notes);
    if let (Some(p), Some(survey)) = (predicted.as_mut(), input.survey()) {
        p.against_input(survey.distinct);
    }
    predicted
}

/// A resume: the users earlier runs of the report excluded stay excluded,
/// listed in this run's `--exclude` or not.
fn sticky_exclusions(
    mut exclusions: Exclusions,
    claim: &Claim,
    notes: &mut Vec<String>,
) -> Exclusions {
    let Claim::Resume(opened) = claim else {
        return exclusions;
    };
    if opened.exclude.is_empty() {
        return exclusions;
    }
    stick(&mut exclusions, &opened.exclude);
    notes.push(format!(
        "resume: {} user(s) excluded by an earlier run of this report stay excluded, with or \
         without --exclude",
        opened.exclude.len()
    ));
    exclusions
}

/// What the plan says of a resume: users done, users to check first (and
/// why some are), a torn line cut off, a daily limit an earlier run reached.
fn resume_notes(earlier: &Earlier, how: &str, notes: &mut Vec<String>) {
    let mut note = format!(
        "resume: {} users already done; {} to check {how} before any call",
        earlier.done.values().filter(|d| d.is_done()).count(),
        if earlier.check_all {
            "every other".to_owned()
        } else {
            earlier.uncertain.len().to_string()
        }
    );
    if earlier.unbacked > 0 {
        note.push_str(&format!(
            "; of them {} recorded done after the journal's last checkpoint with no reset \
             journaled (nothing vouches for those records: the report may have been edited \
             there)",
            earlier.unbacked
        ));
    }
    if earlier.torn_line {
        note.push_str("; a torn last line (from a crash) was cut off");
    }
    notes.push(note);
    for (region, at) in &earlier.daily_limit {
        let (region, at) = (crate::progress::escape(region), crate::progress::escape(at));
        notes.push(format!(
            "WARNING: an earlier run of this report reached the daily limit on codes in \
             {region} (its last refusal at {at}): until the limit resets, resets sent there are \
             refused and the run stops again (exit 3); move the pools' email to Amazon SES, or \
             resume later"
        ));
    }
}

/// `--overwrite` of a report that records users as reset or disabled: how
/// many this run will reset again.
fn overwrites_done(ctx: &Context, pools: &PoolMap, claim: &Claim, earlier: &Earlier) -> usize {
    match claim {
        Claim::Overwrite(done) => done.saturating_sub(skipped_again(ctx, pools, earlier)),
        _ => 0,
    }
}

/// Users the report `--overwrite` empties records as done whom
/// `--skip-done` skips: this run does not reset them again.
fn skipped_again(ctx: &Context, pools: &PoolMap, earlier: &Earlier) -> usize {
    if earlier.elsewhere.is_empty() {
        return 0;
    }
    let key = |pool: &str, user: &str| row_key(pool, user, pools.skips_ignoring_case(pool));
    let Ok(done) = resume::done_in(&ctx.config.report, key, &mut Default::default()) else {
        return 0;
    };
    done.done
        .entries()
        .filter(|(k, _)| earlier.elsewhere.get(*k).is_some())
        .count()
}

/// A file's distinct users per pool that the run may call: less those
/// `--exclude` lists and, on a resume, less those an earlier run reset,
/// disabled or excluded (each user left out once).
fn to_call(
    input: &Input,
    resumed: Option<&std::path::Path>,
    exclusions: &Exclusions,
) -> Option<BTreeMap<String, u64>> {
    let mut rows = input.survey()?.distinct_by_pool();
    if let Some(report) = resumed {
        let listed =
            |pool: &str, user: &str| exclusions.why(pool, user, true) == Some(Excluded::Listed);
        for (pool, left_out) in resume::left_out_by_pool(report, listed) {
            if let Some(n) = rows.get_mut(&pool) {
                *n = n.saturating_sub(left_out);
            }
        }
    }
    Some(rows)
}

/// Describes every pool, and sets `--rate auto`.
async fn describe(
    ctx: &Context,
    service: &Service,
    input: &Input,
    predicted: Option<&Predicted>,
    rows: Option<BTreeMap<String, u64>>,
    notes: &mut Vec<String>,
) -> Result<Arc<PoolMap>, StartError> {
    let config = &ctx.config;
    let mut map = PoolMap::new(service.aws.clone(), config.region.clone());
    let pools = input.pools(config.read.default_pool.as_deref());
    let ask = Ask {
        pools: &pools,
        rows,
        dry_run: config.policy.dry_run,
        endpoint: &service.endpoint,
        max_attempts: config.policy.max_attempts,
        predicted,
    };
    preflight::describe_pools(&ctx.caller, &mut map, &ask).await?;
    if config.recovery_rate == RateSpec::Auto {
        let attempts = config.policy.max_attempts;
        let lines = preflight::auto_rates(&ctx.caller, &map, &ctx.limiters, attempts).await;
        notes.extend(lines);
    }
    Ok(Arc::new(map))
}

/// A real run: what the dry run of the same input predicted, from its
/// report under the name a dry run gives it by default, if that report
/// belongs to this input.
fn predicted(ctx: &Context, header: &Header, notes: &mut Vec<String>) -> Option<Predicted> {
    let config = &ctx.config;
    if config.policy.dry_run || config.source == Source::Stdin {
        return None;
    }
    let stem = config.source.report_stem("");
    let path = std::path::PathBuf::from(format!("{stem}.dry-run.report.csv"));
    match answers::predicted(&path, &header.fingerprint) {
        Ok(found) => found,
        Err(why) => {
            notes.push(format!(
                "channels: the dry run's report is not used ({why}), so how many codes go by \
                 email or SMS is unknown"
            ));
            None
        }
    }
}

/// A listing's first page: Cognito refusing it stops the run here.
async fn first_page(ctx: &Context, pools: &PoolMap, input: Input) -> Result<Input, StartError> {
    input
        .first_page(|pool, listing| {
            let region = pools.region_of(&pool);
            Lister {
                caller: ctx.caller.clone(),
                cognito: pools.client(&region),
                region,
                pool,
                listing,
                max_attempts: ctx.config.policy.max_attempts,
            }
        })
        .await
}

/// A resume: what the earlier runs left, keyed by each pool's case rule.
fn read_earlier(
    ctx: &Context,
    header: &Header,
    pools: &PoolMap,
    claim: &mut Claim,
    notes: &mut Vec<String>,
) -> Result<Earlier, StartError> {
    let Claim::Resume(opened) = claim else {
        return Ok(Earlier::default());
    };
    if ctx.config.check_all && !opened.journal_lost {
        notes.push("--check-all: every user not yet reset is checked before sending".into());
    }
    let config = &ctx.config;
    let expect = Expect {
        header,
        sign_out: config.policy.sign_out,
        check_all: config.check_all,
        summary_chain: config
            .summary
            .as_deref()
            .and_then(|s| crate::audit::earlier_chain(s, &config.report)),
    };
    let key = |pool: &str, user: &str| row_key(pool, user, pools.folds_case(pool));
    let earlier = resume::read(opened, &config.report, &expect, key)?;
    let listed = matches!(
        config.source,
        crate::input::Source::Pool { .. } | crate::input::Source::Group { .. }
    );
    let how = match listed {
        // A listing shows each user's state: most need no AdminGetUser.
        true => "by the state the listing shows (or AdminGetUser)",
        false => "with AdminGetUser",
    };
    resume_notes(&earlier, how, notes);
    Ok(earlier)
}

/// `--skip-done`: the users other reports record as done, keyed by each
/// pool's case rule. A report that does not verify stops the run.
fn read_elsewhere(
    ctx: &Context,
    pools: &PoolMap,
    claim: &Claim,
    into: Elsewhere,
) -> Result<(), StartError> {
    let Elsewhere {
        earlier,
        exclusions,
        notes,
    } = into;
    let key = |pool: &str, user: &str| row_key(pool, user, pools.skips_ignoring_case(pool));
    let unknown_case = pools.facts().any(|f| f.info.is_none());
    // The reports earlier runs of this report skipped stay skipped, named
    // on the resume or not.
    let mut reports: Vec<PathBuf> = match claim {
        Claim::Resume(opened) => opened.skip_done.iter().map(PathBuf::from).collect(),
        _ => Vec::new(),
    };
    for given in &ctx.config.skip_done {
        if !reports.iter().any(|r| crate::config::same_file(r, given)) {
            reports.push(given.clone());
        }
    }
    for (i, path) in reports.iter().enumerate() {
        let found = resume::done_in(path, key, &mut earlier.sign_outs)?;
        earlier.elsewhere_held.push(found.held);
        let done = found.done;
        // Its exclusions stick, as a resume's do.
        let kept = stick(exclusions, &found.exclude);
        let shown = crate::progress::escape(&path.display().to_string());
        let said = Said {
            sign_out: ctx.config.policy.sign_out,
            unknown_case,
        };
        skip_done_notes(&shown, &done, kept, said, notes);
        let index = u8::try_from(i).unwrap_or(u8::MAX);
        for (k, d) in done.entries() {
            earlier.elsewhere.insert(k, (d, index));
        }
        earlier.elsewhere_names.push(path.display().to_string());
    }
    earlier.elsewhere.settle();
    Ok(())
}

/// What the plan needs to say of the run.
#[derive(Clone, Copy)]
struct Said {
    /// `--global-sign-out`.
    sign_out: bool,
    /// Some pool's case rule is unknown: usernames are matched ignoring case.
    unknown_case: bool,
}

/// What the plan says of one `--skip-done` report: the users it records as
/// done, the sign-outs it owes or never made, its exclusions kept.
fn skip_done_notes(
    shown: &str,
    done: &crate::keys::KeyMap<resume::Done>,
    kept: usize,
    said: Said,
    notes: &mut Vec<String>,
) {
    if kept > 0 {
        notes.push(format!(
            "--skip-done {shown}: {kept} user(s) its runs excluded stay excluded"
        ));
    }
    let unsigned = done
        .values()
        .filter(|d| said.sign_out && d.signed_out().is_none())
        .count();
    if unsigned > 0 {
        notes.push(format!(
            "--skip-done {shown}: {unsigned} of its users were reset without a sign-out; \
             those this input lists are signed out (--global-sign-out)"
        ));
    }
    let owing = done.values().filter(|d| d.owes_sign_out()).count();
    let owed_words = match (owing, said.sign_out) {
        (0, _) => String::new(),
        (_, true) => format!(" ({owing} owe a sign-out, which this run finishes)"),
        (_, false) => format!(
            " — WARNING: {owing} owe a sign-out, which this run does not make: their \
             sessions live on; add --global-sign-out to finish them"
        ),
    };
    notes.push(format!(
        "--skip-done {shown}: it records {} users as reset or disabled; those this input \
         lists are skipped, not reset again{owed_words}{}",
        done.len(),
        if said.unknown_case {
            "; usernames are matched ignoring case, for the pool's case rule is unknown"
        } else {
            ""
        }
    ));
}

/// Where what `--skip-done` reports record goes.
struct Elsewhere<'a> {
    earlier: &'a mut Earlier,
    exclusions: &'a mut Exclusions,
    notes: &'a mut Vec<String>,
}

/// Adds another report's exclusions as earlier ones; returns how many were
/// not already excluded.
fn stick(exclusions: &mut Exclusions, excluded: &[(String, String)]) -> usize {
    let mut added = 0;
    for (pool, user) in excluded {
        if !exclusions.contains(pool, user, false) {
            exclusions.add_earlier(pool, user);
            added += 1;
        }
    }
    added
}

/// Checks that AdminGetUser is permitted where the run depends on it,
/// before anything is sent. `Ok(false)`: not permitted, and the run can do
/// without it (a refused reset is then reported without finding out why).
async fn probe(
    ctx: &Context,
    pools: &PoolMap,
    input: &Input,
    earlier: &Earlier,
    notes: &mut Vec<String>,
) -> Result<bool, StartError> {
    let p = ctx.config.policy;
    let must_verify = earlier.check_all || !earlier.uncertain.is_empty();
    let named = input.pools(ctx.config.read.default_pool.as_deref());
    let pool = match (earlier.uncertain.values().next(), named.first()) {
        (_, None) => return Ok(true),
        (Some(pending), _) => pending.pool.clone(),
        (None, Some(pool)) => pool.clone(),
    };
    let Err(e) = preflight::probe_checks(&ctx.caller, pools, &pool, p.max_attempts).await else {
        return Ok(true);
    };
    let why = format!(
        "cognito-idp:AdminGetUser is not permitted ({}: {})",
        e.code, e.message
    );
    if must_verify && !p.dry_run && !p.resend_unchecked {
        return Err(StartError::Aborted(format!(
            "{why}: the users whose earlier reset was never recorded cannot be checked, and \
             are never reset a second time on a guess. Allow AdminGetUser and --resume, or \
             pass --resend-unchecked to send those users a reset again; nothing was sent"
        )));
    }
    if p.dry_run || p.disable_unreachable {
        let purpose = if p.dry_run {
            "--dry-run predicts each row with it"
        } else {
            "--unresettable disable needs it to tell federated users (never disabled) apart"
        };
        return Err(StartError::Usage(format!(
            "{why}: {purpose}; nothing was sent"
        )));
    }
    notes.push(format!(
        "{why}: a reset Cognito refuses is reported without reading the user's state (who \
         has no verified contact, who is federated); a reset whose answer is lost is \
         reported failed rather than sent again unchecked"
    ));
    Ok(false)
}
