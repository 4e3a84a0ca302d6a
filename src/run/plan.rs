//! The third phase: the plan shown before a run — what will be done, to
//! whom, how fast, what the preflight found, and the estimate of how long
//! it takes — and the operator's confirmation.
//!
//! The estimate follows Cognito's quotas: each category of call has its own
//! rate per region, so a run takes as long as its slowest (region, category)
//! — a reset with sign-out runs at the slower of the two rates, not at their
//! sum sharing one budget.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use super::check::Checked;
use crate::exit::StartError;
use crate::limiter::{Category, Limiters, Rate};
use crate::pool::Pools;
use crate::progress::escape;
use crate::sessions;
use crate::shutdown::blocking;

/// Calls a run expects to make, per (region, category).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Load(pub BTreeMap<(String, Category), u64>);

impl Load {
    /// Adds `calls` calls of `category` in `region`.
    pub fn add(&mut self, region: &str, category: Category, calls: u64) {
        if calls > 0 {
            *self.0.entry((region.to_owned(), category)).or_default() += calls;
        }
    }

    /// Seconds the slowest (region, category) takes, and which it is; `None`
    /// when nothing is paced.
    pub fn eta(&self, limiters: &Limiters) -> Option<(f64, String, Category)> {
        self.0
            .iter()
            .filter_map(
                |((region, category), calls)| match limiters.rate(region, *category) {
                    Rate::PerSecond(r) => Some((*calls as f64 / r, region.clone(), *category)),
                    Rate::Unlimited => None,
                },
            )
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// One line per (region, category): calls, rate, time.
    pub fn lines(&self, limiters: &Limiters) -> Vec<String> {
        self.0
            .iter()
            .map(|((region, category), calls)| {
                let rate = limiters.rate(region, *category);
                let time = match rate {
                    Rate::PerSecond(r) => format!("{} at {r}/s", duration(*calls as f64 / r)),
                    Rate::Unlimited => "unpaced".to_owned(),
                };
                format!(
                    "{region} {}: {calls} calls, {time} ({})",
                    category.name(),
                    category.flag()
                )
            })
            .collect()
    }
}

/// A duration as an operator reads it.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{seconds:.1}s")
    }
}

/// The pools the run named, with their regions.
fn pool_regions(c: &Checked) -> BTreeSet<(String, String)> {
    let pools = &c.found.pools;
    c.input
        .pools(c.ctx.config.read.default_pool.as_deref())
        .into_iter()
        .map(|p| {
            let region = pools.region_of(&p);
            (p, region)
        })
        .collect()
}

fn steps_line(c: &Checked) -> String {
    let p = &c.ctx.config.policy;
    if p.dry_run {
        return "steps: AdminGetUser for each row to predict what a reset would do; nothing changes"
            .into();
    }
    let mut steps = vec!["AdminResetUserPassword"];
    if p.sign_out {
        steps.push("AdminUserGlobalSignOut (--global-sign-out)");
    }
    if p.disable_unreachable {
        steps.push("AdminDisableUser for users a reset cannot reach (--unresettable disable)");
    }
    format!("steps: {}", steps.join(" → "))
}

/// The calls the run expects, per (region, category).
fn load(c: &Checked) -> Option<Load> {
    let to_call = c.found.to_call.as_ref()?;
    let p = &c.ctx.config.policy;
    let mut load = Load::default();
    for (pool, region) in pool_regions(c) {
        let rows = to_call.get(&pool).copied().unwrap_or(0);
        if p.dry_run {
            load.add(&region, Category::UserRead, rows);
            continue;
        }
        load.add(&region, Category::UserAccountRecovery, rows);
        if p.sign_out {
            load.add(&region, Category::UserUpdate, rows);
        }
        if c.earlier.check_all {
            load.add(&region, Category::UserRead, rows);
        }
    }
    if let Some((_, region)) = pool_regions(c).into_iter().next() {
        load.add(
            &region,
            Category::UserRead,
            c.earlier.uncertain.len() as u64,
        );
    }
    Some(load)
}

/// When the run is estimated to end: now plus the estimated duration
/// (`None` when the duration is unknown).
fn run_end(c: &Checked) -> Option<SystemTime> {
    let secs = match load(c)?.eta(&c.ctx.limiters) {
        Some((secs, _, _)) => secs,
        None => 0.0,
    };
    Some(SystemTime::now() + Duration::from_secs_f64(secs.max(0.0)))
}

fn eta_lines(c: &Checked, out: &mut Vec<String>) {
    let limiters = &c.ctx.limiters;
    let Some(load) = load(c) else {
        out.push("estimated duration: unknown until the input is read".into());
        return;
    };
    for line in load.lines(limiters) {
        out.push(format!("  {line}"));
    }
    match load.eta(limiters) {
        Some((secs, region, category)) => out.push(format!(
            "estimated duration: {} (set by {region} {}, the slowest category)",
            duration(secs),
            category.name()
        )),
        None => out.push("estimated duration: unpaced".into()),
    }
}

/// The plan, as the operator reads it.
pub fn render(c: &Checked) -> String {
    let config = &c.ctx.config;
    let verb = if config.policy.dry_run {
        "DRY RUN (AdminGetUser only, nothing changes)"
    } else {
        "RESET PASSWORDS"
    };
    let mut out = vec![format!("plan: {verb}"), c.input.describe(), steps_line(c)];
    out.extend(warnings(c));
    let end = run_end(c).filter(|_| !config.policy.dry_run);
    for facts in c.found.pools.facts() {
        out.push(format!("pool {} ({}):", facts.id, facts.region));
        for note in &facts.notes {
            out.push(format!("  {note}"));
        }
        let clients = facts.app_clients.as_deref();
        for line in sessions::plan_lines(clients, config.policy.sign_out, end) {
            out.push(format!("  {line}"));
        }
    }
    if c.exclusions.listed() > 0 {
        out.push(format!(
            "excluded: {} users listed in --exclude are never touched",
            c.exclusions.listed()
        ));
    }
    match &c.found.identity {
        Ok(id) => out.push(format!("caller: {} (account {})", id.arn, id.account)),
        Err(why) => out.push(format!("caller: {why}")),
    }
    out.push(format!(
        "concurrency {}, max attempts {} per call",
        config.concurrency, config.policy.max_attempts
    ));
    out.extend(c.found.notes.iter().cloned());
    eta_lines(c, &mut out);
    let report = escape(&config.report.display().to_string());
    let appending = if config.resume { " (appending)" } else { "" };
    out.push(format!("report: {report}{appending}"));
    out.push(format!("endpoint: {}", escape(&c.service.endpoint)));
    let mut text = out.remove(0);
    for line in out {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    text
}

/// The plan's warnings about the input and the regions, and the reason.
fn warnings(c: &Checked) -> Vec<String> {
    let mut out = Vec::new();
    if c.input.survey().is_some_and(|v| v.truncated) {
        out.push(
            "WARNING: a line longer than 1 MiB ends the input: nothing after it is read (the \
             report names its line); give the rows after it as a new input, with a new \
             --report (a fixed file is another input: --resume refuses it)"
                .into(),
        );
    }
    if c.found.pools.regions().len() > 1 {
        out.push(
            "regions run in parallel only as far as the input mixes them: with rows grouped \
             by region, one region's rows fill the calls in flight at a time"
                .into(),
        );
    }
    if let Some(reason) = &c.ctx.config.reason {
        out.push(format!("reason: {}", escape(reason)));
    }
    if c.found.overwrites_done > 0 {
        out.push(overwrite_warning(c));
    }
    out
}

/// Asks `[y/N]` on a terminal; off a terminal, `--yes` is needed. Dry
/// runs never ask. A run against the simulator asks as a real one does, so
/// that a rehearsal passes only where the real run would start.
pub async fn confirm(c: &Checked) -> Result<(), StartError> {
    let config = &c.ctx.config;
    if c.found.overwrites_done > 0 {
        return confirm_overwrite(c).await;
    }
    if config.policy.dry_run || config.yes {
        return Ok(());
    }
    if !can_ask(c) {
        return Err(StartError::NotConfirmed(
            "not on a terminal (or standard input is the data), so cannot ask for \
             confirmation: pass --yes to reset without asking; nothing was sent"
                .into(),
        ));
    }
    // The answer is read on a thread of its own, so that a signal at the
    // prompt stops the run at once.
    let question = || Ok(crate::progress::ask("Reset these users' passwords?"));
    if blocking(&c.ctx.stop, question).await? {
        Ok(())
    } else {
        Err(StartError::NotConfirmed(
            "not confirmed; nothing was sent".into(),
        ))
    }
}

/// `--overwrite` of a report that records resets: on a terminal the
/// operator is asked, `--yes` or not; off one, `--yes` goes on, the warning
/// said even with `--quiet`.
async fn confirm_overwrite(c: &Checked) -> Result<(), StartError> {
    let warning = overwrite_warning(c);
    if !can_ask(c) {
        if !c.ctx.config.yes {
            return Err(StartError::NotConfirmed(format!(
                "{warning}; not on a terminal, so cannot ask: pass --yes to overwrite; nothing \
                 was sent"
            )));
        }
        if c.ctx.config.verbosity == crate::progress::Verbosity::Quiet {
            crate::progress::say(&format!("cognito-reset: {warning}"));
        }
        return Ok(());
    }
    let n = c.found.overwrites_done;
    let question = move || {
        Ok(crate::progress::ask(&format!(
            "Reset {n} users again, with a second code?"
        )))
    };
    if blocking(&c.ctx.stop, question).await? {
        Ok(())
    } else {
        Err(StartError::NotConfirmed(
            "not confirmed; nothing was sent".into(),
        ))
    }
}

/// What `--overwrite` of a report that records resets will do.
fn overwrite_warning(c: &Checked) -> String {
    let report = escape(&c.ctx.config.report.display().to_string());
    format!(
        "WARNING: --overwrite empties {report}, which records {} users as reset or disabled: \
         they will be sent a reset again (a second code). To leave them be, give a new \
         --report and --skip-done {report}",
        c.found.overwrites_done
    )
}

/// Whether confirmation can be asked: a terminal on both ends, and standard
/// input not being the data.
fn can_ask(c: &Checked) -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && !c.input.is_stdin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::Rates;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(4.04), "4.0s");
        assert_eq!(duration(125.0), "2m05s");
        assert_eq!(duration(20000.0), "5h33m20s");
    }

    #[test]
    fn a_reset_with_sign_out_takes_as_long_as_the_slower_category() {
        let limiters = Limiters::new(Rates::default());
        let mut load = Load::default();
        load.add("eu-west-1", Category::UserAccountRecovery, 500);
        load.add("eu-west-1", Category::UserUpdate, 500);
        let (secs, region, category) = load.eta(&limiters).unwrap();
        // 500 at 25/s = 20 s; 500 at 20/s = 25 s: the sign-outs set the pace.
        assert_eq!(
            (secs, region.as_str(), category),
            (25.0, "eu-west-1", Category::UserUpdate)
        );
        // Another region runs in parallel, on its own quotas.
        load.add("us-east-1", Category::UserAccountRecovery, 100);
        assert_eq!(load.eta(&limiters).unwrap().0, 25.0);
        assert_eq!(load.lines(&limiters).len(), 3);
    }
}
