//! The plan shown before a run: what will be done, to whom, how fast, and
//! what the preflight found — and the estimate of how long it takes.
//!
//! The estimate follows Cognito's quotas: each category of call has its own
//! rate per region, so a run takes as long as its slowest (region, category)
//! — a reset with sign-out runs at the slower of the two rates, not at their
//! sum sharing one budget.

use std::collections::BTreeMap;

use crate::config::Source;
use crate::limiter::{Category, Limiters, Rate};
use crate::progress::escape;
use crate::session::Session;

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

fn input_line(s: &Session) -> String {
    match (&s.config.source, &s.survey) {
        (Source::File(path), Some(v)) => format!(
            "input: {}: {} rows, {} valid ({} distinct users, case aside), {} invalid; sha256 {}",
            escape(path),
            v.rows,
            v.valid,
            v.distinct,
            v.rows - v.valid,
            &v.sha256
        ),
        (Source::File(path), None) => format!(
            "input: {} (not a regular file: read once as a stream; row count unknown)",
            escape(path)
        ),
        (Source::Stdin, _) => {
            "input: standard input (read once as a stream; row count unknown)".into()
        }
        (Source::Pool { pool, filter }, _) => format!(
            "input: every user of {pool}{}",
            filter
                .as_ref()
                .map(|f| format!(" matching {}", escape(f)))
                .unwrap_or_default()
        ),
        (Source::Group { pool, group }, _) => {
            format!("input: every user of group {} in {pool}", escape(group))
        }
    }
}

fn steps_line(s: &Session) -> String {
    let p = &s.config.policy;
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
fn load(s: &Session) -> Option<Load> {
    let survey = s.survey.as_ref()?;
    let done = s.earlier.done.values().filter(|d| d.is_done()).count() as u64;
    // Rows to call: distinct users not yet done, shared out by pool.
    let share = survey.distinct.saturating_sub(done) as f64 / survey.valid.max(1) as f64;
    let p = &s.config.policy;
    let mut load = Load::default();
    for (pool, region) in s.pool_regions() {
        let valid = survey.pools.get(&pool).copied().unwrap_or(0);
        let rows = (valid as f64 * share).round() as u64;
        if p.dry_run {
            load.add(&region, Category::UserRead, rows);
            continue;
        }
        load.add(&region, Category::UserAccountRecovery, rows);
        if p.sign_out {
            load.add(&region, Category::UserUpdate, rows);
        }
        if s.earlier.check_all {
            load.add(&region, Category::UserRead, rows);
        }
    }
    if let Some((_, region)) = s.pool_regions().into_iter().next() {
        load.add(
            &region,
            Category::UserRead,
            s.earlier.uncertain.len() as u64,
        );
    }
    Some(load)
}

fn eta_lines(s: &Session, out: &mut Vec<String>) {
    let Some(load) = load(s) else {
        out.push("estimated duration: unknown until the input is read".into());
        return;
    };
    for line in load.lines(&s.limiters) {
        out.push(format!("  {line}"));
    }
    match load.eta(&s.limiters) {
        Some((secs, region, category)) => out.push(format!(
            "estimated duration: {} (set by {region} {}, the slowest category)",
            duration(secs),
            category.name()
        )),
        None => out.push("estimated duration: unpaced".into()),
    }
}

/// The plan, as the operator reads it.
pub fn render(s: &Session) -> String {
    let c = &s.config;
    let verb = if c.policy.dry_run {
        "DRY RUN (AdminGetUser only, nothing changes)"
    } else {
        "RESET PASSWORDS"
    };
    let mut out = vec![format!("plan: {verb}"), input_line(s), steps_line(s)];
    if s.survey.as_ref().is_some_and(|v| v.truncated) {
        out.push(
            "WARNING: a line longer than 1 MiB ends the input: nothing after it is read (the \
             report names its line); give the rows after it as a new input, with a new \
             --report (a fixed file is another input: --resume refuses it)"
                .into(),
        );
    }
    if s.pools().regions().len() > 1 {
        out.push(
            "regions run in parallel only as far as the input mixes them: with rows grouped \
             by region, one region's rows fill the calls in flight at a time"
                .into(),
        );
    }
    if let Some(reason) = &c.reason {
        out.push(format!("reason: {}", escape(reason)));
    }
    for facts in s.pools().facts() {
        out.push(format!("pool {} ({}):", facts.id, facts.region));
        for note in &facts.notes {
            out.push(format!("  {note}"));
        }
    }
    if s.excluded() > 0 {
        out.push(format!(
            "excluded: {} users listed in --exclude are never touched",
            s.excluded()
        ));
    }
    match &s.identity {
        Ok(id) => out.push(format!("caller: {} (account {})", id.arn, id.account)),
        Err(why) => out.push(format!("caller: {why}")),
    }
    out.push(format!(
        "concurrency {}, max attempts {} per call",
        c.concurrency, c.policy.max_attempts
    ));
    out.extend(s.notes().iter().cloned());
    eta_lines(s, &mut out);
    let report = escape(&c.report.display().to_string());
    out.push(format!(
        "report: {report}{}",
        if c.resume { " (appending)" } else { "" }
    ));
    out.push(format!("endpoint: {}", escape(&s.endpoint)));
    let mut text = out.remove(0);
    for line in out {
        text.push_str("\n  ");
        text.push_str(&line);
    }
    text
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
