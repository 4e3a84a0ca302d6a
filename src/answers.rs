//! The responder's answers, per pool: where each code went (codes by
//! channel), and whether and since when the users are out (the last
//! sign-out, the users who still owe one, and *locked out by*: the last
//! sign-out plus the longest access/ID-token validity of the pool's app
//! clients).
//!
//! [`Seen`] is counted from the records as they are written (the tally
//! carries it) and, on a resume, from the earlier runs' rows as they are
//! read back; [`Predicted`] is what a dry run of the same input predicted,
//! read from its report for the plan of the real run; [`PoolAnswers`] is
//! what the summary records of each pool.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::channel::Channel;
use crate::cognito::AppClient;
use crate::journal;
use crate::keys::{KeyMap, row_key};
use crate::report::{Outcome, Record, ReportFormat, ResetBy, read_whole};
use crate::sessions;

/// What the records of one pool said.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PoolSeen {
    /// Codes by channel: a dry run's `would_reset` rows (predicted), a real
    /// run's resets (as far as the user's contacts were read).
    pub codes: BTreeMap<Channel, u64>,
    /// The last successful sign-out or disable (its row's `completed_at`).
    pub last_sign_out: Option<SystemTime>,
    /// Users reset or disabled whose sign-out failed or was not made.
    pub not_signed_out: u64,
    /// Users left with a working password (their reset failed, could not
    /// reach them, or never ran): nobody signed them out either.
    pub kept_password: u64,
}

/// What the records said, per pool.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Seen(BTreeMap<String, PoolSeen>);

impl Seen {
    /// Counts one record of this run.
    pub fn see(&mut self, record: &Record) {
        let done = matches!(record.outcome, Outcome::Reset | Outcome::Disabled);
        let kept = !done && record.meaning.kept_password.is_some();
        // A reset a check found, or an earlier run sent, is no code of this run.
        let sent_here = !matches!(
            record.meaning.reset_by,
            Some(ResetBy::Confirmed | ResetBy::Earlier)
        );
        let channel = record.channel.filter(|_| sent_here);
        let counts = channel.is_some() || (done && record.signed_out.is_some()) || kept;
        if !counts {
            return;
        }
        let pool = self.0.entry(record.user_pool_id.clone()).or_default();
        pool.kept_password += u64::from(kept);
        if let Some(channel) = channel {
            *pool.codes.entry(channel).or_default() += 1;
        }
        if done && record.signed_out == Some(false) {
            pool.not_signed_out += 1;
        }
        pool.see_sign_out(record);
    }

    /// Notes the sign-out of a row an earlier run wrote (a resume reads the
    /// whole report).
    pub fn see_sign_out(&mut self, record: &Record) {
        if signed_out_at(record).is_some() {
            let pool = self.0.entry(record.user_pool_id.clone()).or_default();
            pool.see_sign_out(record);
        }
    }

    /// What was seen of one pool.
    pub fn pool(&self, id: &str) -> Option<&PoolSeen> {
        self.0.get(id)
    }
}

impl PoolSeen {
    fn see_sign_out(&mut self, record: &Record) {
        if let Some(at) = signed_out_at(record) {
            self.last_sign_out = self.last_sign_out.max(Some(at));
        }
    }
}

/// When a row's user was signed out (or disabled): its `completed_at`, the
/// end of its last call.
fn signed_out_at(record: &Record) -> Option<SystemTime> {
    let out = record.signed_out == Some(true) || record.outcome == Outcome::Disabled;
    out.then(|| humantime::parse_rfc3339(&record.completed_at).ok())
        .flatten()
}

/// Counts by channel, as the summary writes them.
pub fn by_word(codes: &BTreeMap<Channel, u64>) -> BTreeMap<String, u64> {
    codes
        .iter()
        .map(|(c, n)| (c.as_str().to_owned(), *n))
        .collect()
}

/// Counts by channel, as the operator reads them.
pub fn in_words(codes: &BTreeMap<Channel, u64>) -> String {
    if codes.is_empty() {
        return "none".into();
    }
    codes
        .iter()
        .map(|(c, n)| format!("{} {n}", c.as_str()))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// What a dry run of the same input predicted, read from its report.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicted {
    /// The dry run's report.
    pub path: PathBuf,
    /// When the dry run (its last run) started.
    pub at: String,
    /// Codes by channel, per pool (each user's latest row).
    pub codes: BTreeMap<String, BTreeMap<Channel, u64>>,
    /// Users the dry run did not predict (it stopped first, excluded them,
    /// or could not check them), per pool.
    pub unpredicted: BTreeMap<String, u64>,
    /// Distinct users (case aside) the dry run's report has a row for.
    pub users: u64,
    /// Users of this input the dry run's report has no row for (it was
    /// killed first), in no known pool.
    pub missing: u64,
}

impl Predicted {
    /// The codes predicted for a pool by `channel`; `None` when the dry
    /// run predicted nothing for the pool.
    pub fn count(&self, pool: &str, channel: Channel) -> Option<u64> {
        let codes = self.codes.get(pool)?;
        Some(codes.get(&channel).copied().unwrap_or(0))
    }

    /// Notes that the input holds `distinct` users (case aside): those
    /// the dry run's report has no row for were never predicted.
    pub fn against_input(&mut self, distinct: u64) {
        self.missing = distinct.saturating_sub(self.users);
    }

    /// Whether the dry run stopped before predicting every user of the
    /// pool: its counts are then lower bounds.
    pub fn partial(&self, pool: &str) -> bool {
        self.missing > 0 || self.unpredicted.get(pool).copied().unwrap_or(0) > 0
    }

    /// "12 (predicted by the dry run of …)", "at least 12 (…)" when it did
    /// not finish.
    pub fn words(&self, pool: &str, channel: Channel) -> Option<String> {
        let n = self.count(pool, channel)?;
        if !self.partial(pool) {
            return Some(format!("{n} (predicted by the dry run of {})", self.at));
        }
        let unknown = self.unpredicted.get(pool).copied().unwrap_or(0) + self.missing;
        Some(format!(
            "at least {n} (predicted by the dry run of {}, which did not predict {unknown} \
             user{} — it stopped first, excluded them or could not check them: unknown \
             beyond)",
            self.at,
            if unknown == 1 { "" } else { "s" }
        ))
    }
}

/// A user's latest row in a dry run's report: its pool (an index) and
/// what it predicts.
#[derive(Debug, Clone, Copy)]
struct Latest {
    pool: u32,
    /// `None`: no code (would fail); `Some(None)`: not predicted.
    code: Option<Option<Channel>>,
}

/// Reads what the dry run whose report is at `path` predicted, if that
/// report belongs to the same input (its journal's fingerprint is
/// `fingerprint`). `Ok(None)`: there is none; `Err`: there is one this run
/// cannot use, and why.
pub fn predicted(path: &Path, fingerprint: &str) -> Result<Option<Predicted>, String> {
    let Ok(mut file) = crate::files::inspect(path) else {
        return Ok(None);
    };
    let shown = crate::progress::escape(&path.display().to_string());
    let journal = journal::read(&journal::path_for(path), |_, _| false)
        .ok()
        .flatten();
    let Some((header, runs)) = journal.and_then(|j| Some((j.header?, j.runs))) else {
        return Err(format!("{shown} has no readable journal"));
    };
    let at = runs
        .last()
        .map_or_else(|| "an unknown time".into(), |r| r.started.clone());
    if header.mode != "dry_run" || header.fingerprint != fingerprint {
        return Err(format!("{shown} belongs to another input"));
    }
    let mut pools: Vec<String> = Vec::new();
    let mut latest: KeyMap<Latest> = KeyMap::default();
    let mut users: std::collections::HashSet<u64> = Default::default();
    let whole = read_whole(&mut file, ReportFormat::from_path(path), |record, _| {
        // Users the dry run did not find out about are not predicted: those
        // it stopped before, those it excluded (a real run may not), those
        // whose check failed for a reason that may pass.
        let code = match record.outcome {
            Outcome::WouldReset => Some(Some(record.channel.unwrap_or(Channel::Unknown))),
            Outcome::WouldFail if crate::cognito::may_pass_later(&record.error_code) => Some(None),
            Outcome::WouldFail => None,
            Outcome::Cancelled | Outcome::Failed | Outcome::Excluded => Some(None),
            _ => return,
        };
        let pool = match pools.iter().position(|p| *p == record.user_pool_id) {
            Some(i) => i,
            None => {
                pools.push(record.user_pool_id.clone());
                pools.len() - 1
            }
        } as u32;
        let key = row_key(&record.user_pool_id, &record.username, false);
        latest.insert(key, Latest { pool, code });
        users.insert(row_key(&record.user_pool_id, &record.username, true));
    })
    .map_err(|_| format!("{shown} cannot be read as a report"))?;
    if whole.channel == Some(false) {
        return Err(format!("{shown} predates the channel column"));
    }
    let mut predicted = Predicted::from_latest(path, at, &pools, &latest);
    predicted.users = users.len() as u64;
    Ok(Some(predicted))
}

impl Predicted {
    /// Counts each user's latest row, per pool.
    fn from_latest(
        path: &Path,
        at: String,
        pools: &[String],
        latest: &KeyMap<Latest>,
    ) -> Predicted {
        let mut out = Predicted {
            path: path.to_owned(),
            at,
            codes: pools.iter().map(|p| (p.clone(), BTreeMap::new())).collect(),
            unpredicted: BTreeMap::new(),
            users: 0,
            missing: 0,
        };
        for l in latest.values() {
            let pool = pools[l.pool as usize].clone();
            match l.code {
                Some(Some(channel)) => {
                    *out.codes
                        .entry(pool)
                        .or_default()
                        .entry(channel)
                        .or_default() += 1;
                }
                Some(None) => *out.unpredicted.entry(pool).or_default() += 1,
                None => {}
            }
        }
        out
    }
}

/// An app client as the summary records it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientRecord {
    /// `ClientId`.
    pub client_id: String,
    /// `ClientName`.
    pub name: String,
    /// Refresh-token validity, seconds.
    pub refresh_token_validity_seconds: u64,
    /// Access-token validity, seconds.
    pub access_token_validity_seconds: u64,
    /// ID-token validity, seconds.
    pub id_token_validity_seconds: u64,
}

impl From<&AppClient> for ClientRecord {
    fn from(c: &AppClient) -> ClientRecord {
        ClientRecord {
            client_id: c.id.clone(),
            name: c.name.clone(),
            refresh_token_validity_seconds: c.refresh.as_secs(),
            access_token_validity_seconds: c.access.as_secs(),
            id_token_validity_seconds: c.id_token.as_secs(),
        }
    }
}

/// What the summary records of a pool's answers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PoolAnswers {
    /// The app clients and their token validity (`null`: not read).
    pub app_clients: Option<Vec<ClientRecord>>,
    /// With `--global-sign-out`: the pool's last sign-out (or disable) in
    /// the whole report, RFC 3339.
    pub last_sign_out_at: Option<String>,
    /// With `--global-sign-out`: when tokens issued before the run stop
    /// working — the last sign-out plus the longest access/ID-token
    /// validity (a day, Cognito's limit, when the app clients were not
    /// read), RFC 3339. `null` until the run ends, or when nobody was
    /// signed out.
    pub locked_out_by: Option<String>,
    /// Users of this run not signed out — reset or disabled but their
    /// sign-out failed or was not made, or left with a working password
    /// (never signed out): `locked_out_by` does not hold for them.
    pub not_signed_out: u64,
    /// Codes by channel (`email`, `sms`, `none`, `unknown`): a dry run's
    /// prediction; a real run's resets, `unknown` where the user's
    /// contacts were not read.
    pub codes_by_channel: BTreeMap<String, u64>,
    /// A real run: what the dry run of the same input predicted (`null`
    /// when its report was not at hand).
    pub predicted_codes_by_channel: Option<BTreeMap<String, u64>>,
    /// The dry run stopped before predicting every user: its counts are
    /// lower bounds, the rest unknown.
    pub predicted_partial: bool,
    /// The answers as the operator reads them (not recorded).
    #[serde(skip)]
    pub lines: Vec<String>,
}

impl PoolAnswers {
    /// What is known before the run: the app clients, the prediction.
    pub fn before(
        clients: Option<&[AppClient]>,
        predicted: Option<&Predicted>,
        pool: &str,
    ) -> PoolAnswers {
        PoolAnswers {
            app_clients: clients.map(|c| c.iter().map(ClientRecord::from).collect()),
            predicted_codes_by_channel: predicted.and_then(|p| p.codes.get(pool)).map(by_word),
            predicted_partial: predicted.is_some_and(|p| p.partial(pool)),
            ..PoolAnswers::default()
        }
    }

    /// What the run found out: `seen` this run, `earlier` (a resume) the
    /// earlier runs' sign-outs; `sign_out` and `dry_run` the run's mode.
    pub fn after(&mut self, clients: Option<&[AppClient]>, found: Found<'_>) {
        let codes = found.seen.map(|s| s.codes.clone()).unwrap_or_default();
        self.codes_by_channel = by_word(&codes);
        if found.dry_run {
            self.lines.push(format!(
                "codes by channel (predicted): {}",
                in_words(&codes)
            ));
            return;
        }
        self.lines.push(self.sent_line(&codes));
        if !found.sign_out {
            self.lines.extend(sessions::unended_line(clients));
            return;
        }
        let last = [found.seen, found.earlier]
            .into_iter()
            .flatten()
            .filter_map(|s| s.last_sign_out)
            .max();
        let owed = found.seen.map_or(0, |s| s.not_signed_out);
        let kept = found.seen.map_or(0, |s| s.kept_password);
        self.not_signed_out = owed + kept;
        self.last_sign_out_at = last.map(crate::clock::rfc3339);
        self.locked_out_by = last.map(|t| crate::clock::rfc3339(t + sessions::grace(clients)));
        self.lines
            .push(sessions::summary_line(clients, last, owed, kept));
    }
}

impl PoolAnswers {
    /// A real run's codes by channel, and what the dry run predicted where
    /// this run did not read the users' contacts.
    fn sent_line(&self, codes: &BTreeMap<Channel, u64>) -> String {
        let mut line = format!("codes sent by channel: {}", in_words(codes));
        if !codes.contains_key(&Channel::Unknown) {
            return line;
        }
        match &self.predicted_codes_by_channel {
            Some(p) => {
                let p: Vec<String> = p.iter().map(|(c, n)| format!("{c} {n}")).collect();
                line.push_str(&format!(
                    " (unknown: contacts not read; the dry run of this input predicted {}{})",
                    if self.predicted_partial {
                        "at least "
                    } else {
                        ""
                    },
                    if p.is_empty() {
                        "none".into()
                    } else {
                        p.join(" · ")
                    }
                ));
            }
            None => line.push_str(
                " (unknown: the users' contacts were not read; a dry run of the same input \
                 predicts each user's channel)",
            ),
        }
        line
    }
}

/// What a run found out of one pool.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// This run's records of the pool.
    pub seen: Option<&'a PoolSeen>,
    /// A resume: the earlier runs' records of the pool.
    pub earlier: Option<&'a PoolSeen>,
    /// `--global-sign-out`.
    pub sign_out: bool,
    /// `--dry-run`.
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Header;
    use crate::report::{Chain, Layout, ReportWriter, header_bytes};

    /// Regression: a dry run's journal holding its header but no run line
    /// (cut short as the run began) was taken for no journal at all, and
    /// its report's predictions were not used.
    #[test]
    fn a_dry_run_journal_without_run_lines_still_gives_its_predictions() {
        let dir = std::env::temp_dir().join(format!("cr-answers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.dry-run.report.csv");
        let layout = Layout::of_run(false, true);
        let header = header_bytes(&path, layout);
        std::fs::write(&path, &header).unwrap();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut w = ReportWriter::new(file, &path, layout, Chain::start(&header)).unwrap();
        let mut r = Record::local(1, "a", "eu-west-1_P", Outcome::WouldReset, "", "");
        r.channel = Some(Channel::Sms);
        w.write(&r).unwrap();
        r.username = "b".into();
        r.outcome = Outcome::Cancelled;
        r.channel = None;
        w.write(&r).unwrap();
        w.sync().unwrap();
        let mut line = serde_json::to_string(&Header::new("fp", true, false)).unwrap();
        line.push('\n');
        std::fs::write(journal::path_for(&path), line).unwrap();
        let p = predicted(&path, "fp").unwrap().unwrap();
        assert_eq!(p.count("eu-west-1_P", Channel::Sms), Some(1));
        assert!(
            p.words("eu-west-1_P", Channel::Sms)
                .unwrap()
                .starts_with("at least 1")
        );
        assert!(predicted(&path, "other").is_err(), "another input's");
        assert_eq!(predicted(&dir.join("none.csv"), "fp"), Ok(None));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
