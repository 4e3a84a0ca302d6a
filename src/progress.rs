//! The only owner of the terminal.
//!
//! Everything the tool prints to stderr goes through [`say`] (and the
//! `tracing` writer built on it): lines are printed above the progress bar,
//! never through it; control characters are escaped, so nothing read from an
//! input can drive the terminal; and a closed or broken stderr never stops
//! the run — the report is the record, and the exit code still says what
//! happened.
//!
//! Workers, the retry driver and the report writer bump the atomics in
//! [`Stats`]; the progress task samples them: an indicatif bar on a terminal,
//! one log line every [`LOG_EVERY`] off a terminal (cron, CI), nothing with
//! `--quiet`.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::limiter::Category;

/// Interval between progress lines when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The bar, while one is shown: lines are printed above it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Whether a character could change how the terminal shows text: control
/// characters, and the invisible format characters (bidirectional
/// overrides, zero-width characters) that can make text read as something
/// it is not.
fn disguises(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}' | '\u{061c}' | '\u{180e}' | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// Escapes control and invisible format characters (and nothing else), so
/// that text from an input prints as data: `\n` becomes `\\n`, ESC becomes
/// `\\u{1b}`, a right-to-left override `\\u{202e}`.
pub fn escape(text: &str) -> String {
    if !text.chars().any(disguises) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| match c {
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            '\t' => "\\t".to_owned(),
            c if disguises(c) => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Prints text on stderr, above the bar if one is shown. Control characters
/// other than line breaks are escaped; write errors are ignored.
pub fn say(text: &str) {
    let mut clean: String = text.split('\n').map(escape).collect::<Vec<_>>().join("\n");
    clean.push('\n');
    let write = || {
        let _ = std::io::stderr().lock().write_all(clean.as_bytes());
    };
    let bar = BAR.lock().map(|b| b.clone()).unwrap_or(None);
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// How much goes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// Plan, progress, summary.
    Normal,
    /// Also every row that did not succeed (`-v`).
    Verbose,
    /// Also every call (`-vv`).
    Calls,
}

/// Prints unless `--quiet`.
pub fn say_unless_quiet(verbosity: Verbosity, text: &str) {
    if verbosity > Verbosity::Quiet {
        say(text);
    }
}

/// Asks a yes/no question on the terminal; anything but yes is no.
pub fn ask(question: &str) -> bool {
    use std::io::BufRead;
    let mut err = std::io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// Prints on standard output (the simulator's address, completions, the
/// manual); a closed or broken stdout is ignored.
pub fn print_stdout(text: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text)?;
    out.flush()
}

/// The `tracing` writer: every event goes through [`say`].
#[derive(Clone, Copy, Default)]
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        say(text.trim_end_matches('\n'));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter
    }
}

/// Live counters, written by workers, the retry driver and the report
/// writer, read by the progress task and the summary.
#[derive(Debug, Default)]
pub struct Stats {
    /// Rows recorded in the report.
    pub done: AtomicU64,
    /// Rows recorded `reset` (or `would_reset`).
    pub reset: AtomicU64,
    /// Rows recorded `disabled`.
    pub disabled: AtomicU64,
    /// Rows recorded `failed` (or `would_fail`).
    pub failed: AtomicU64,
    /// Users signed out.
    pub signed_out: AtomicU64,
    /// Sign-outs that failed.
    pub sign_out_failed: AtomicU64,
    /// Calls waiting to be retried.
    pub retrying: AtomicU64,
    /// Calls sent and not yet answered.
    pub in_flight: AtomicU64,
    /// Failed attempts, by why: no answer in time.
    pub timeouts: AtomicU64,
    /// Failed attempts: the service answered 5xx.
    pub server_errors: AtomicU64,
    /// Failed attempts: the connection was refused, reset or closed.
    pub connection_errors: AtomicU64,
    /// Attempts refused for their credentials.
    pub refused: AtomicU64,
    calls: [AtomicU64; Category::ALL.len()],
    throttled: [AtomicU64; Category::ALL.len()],
}

/// Counts a call as waiting to be retried (or in flight) until dropped.
pub struct Retrying<'a>(&'a AtomicU64);

impl Drop for Retrying<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One call sent in `category`.
    pub fn count_call(&self, category: Category) {
        Stats::bump(&self.calls[category.index()]);
    }

    /// One call throttled in `category`.
    pub fn count_throttle(&self, category: Category) {
        Stats::bump(&self.throttled[category.index()]);
    }

    /// A call waits for its retry while the guard lives.
    pub fn retrying(&self) -> Retrying<'_> {
        Stats::bump(&self.retrying);
        Retrying(&self.retrying)
    }

    /// A call is in flight while the guard lives.
    pub fn sending(&self) -> Retrying<'_> {
        Stats::bump(&self.in_flight);
        Retrying(&self.in_flight)
    }

    /// Failed attempts so far by why, as the progress line words them.
    fn failures_line(&self) -> Option<String> {
        let kinds = [
            (&self.timeouts, "timeouts"),
            (&self.server_errors, "5xx"),
            (&self.connection_errors, "connection errors"),
            (&self.refused, "credentials refused"),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .map(|(n, what)| (Stats::get(n), what))
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        (!parts.is_empty()).then(|| format!("failed calls: {}", parts.join(", ")))
    }

    /// Calls sent in `category`.
    pub fn calls(&self, category: Category) -> u64 {
        Stats::get(&self.calls[category.index()])
    }

    /// Calls sent so far in every category, in [`Category::ALL`]'s order.
    pub fn snapshot(&self) -> [u64; Category::ALL.len()] {
        Category::ALL.map(|c| self.calls(c))
    }

    /// Calls throttled in `category`.
    pub fn throttles(&self, category: Category) -> u64 {
        Stats::get(&self.throttled[category.index()])
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A bar on the terminal.
    Bar,
    /// A line every [`LOG_EVERY`].
    Log,
    /// Nothing.
    Quiet,
}

/// What a category's calls are, as the bar counts them.
fn unit(category: Category) -> &'static str {
    match category {
        Category::UserAccountRecovery => "resets",
        Category::UserRead => "checks",
        Category::UserUpdate => "sign-outs",
        Category::UserList => "pages",
        Category::UserPoolRead => "describes",
        Category::UserPoolClientRead => "client reads",
    }
}

/// The rate of each category the run uses.
fn rates_line(stats: &Stats, categories: &[Category], secs: f64) -> String {
    categories
        .iter()
        .map(|c| format!("{:.1} {}/s", stats.calls(*c) as f64 / secs, unit(*c)))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn counts_line(stats: &Stats, sign_out: bool, weather: Option<&dyn Weather>) -> String {
    let mut parts = vec![format!("reset {}", Stats::get(&stats.reset))];
    if sign_out {
        parts.push(format!("signed out {}", Stats::get(&stats.signed_out)));
    }
    for (name, counter) in [("disabled", &stats.disabled), ("failed", &stats.failed)] {
        parts.push(format!("{name} {}", Stats::get(counter)));
    }
    parts.push(format!("in flight {}", Stats::get(&stats.in_flight)));
    parts.push(format!("retrying {}", Stats::get(&stats.retrying)));
    let waiting = weather.map_or(0, |w| w.waiting());
    if waiting > 0 {
        parts.push(format!("waiting {waiting}"));
    }
    parts.extend(stats.failures_line());
    parts.extend(weather.and_then(|w| w.status()));
    parts.join(" · ")
}

/// What the progress line says beyond the counters: pauses going on.
pub trait Weather: Send + Sync {
    /// The pauses going on, in words; `None` when there is none.
    fn status(&self) -> Option<String>;
    /// Attempts waiting for a pause to end.
    fn waiting(&self) -> u64;
}

/// What the progress task shows.
pub struct Show {
    /// How.
    pub display: Display,
    /// The counters.
    pub stats: Arc<Stats>,
    /// The row count, when known.
    pub total: Option<u64>,
    /// Whether sign-outs are counted.
    pub sign_out: bool,
    /// The categories whose rates are shown.
    pub categories: Vec<Category>,
    /// Pauses going on.
    pub weather: Option<Arc<dyn Weather>>,
}

/// Shows progress until `done` is cancelled.
pub async fn show(show: Show, done: CancellationToken) {
    let started = Instant::now();
    let line = |s: &Show| {
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        format!(
            "{} · {}",
            counts_line(&s.stats, s.sign_out, s.weather.as_deref()),
            rates_line(&s.stats, &s.categories, secs)
        )
    };
    match show.display {
        Display::Quiet => done.cancelled().await,
        Display::Log => loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = tokio::time::sleep(LOG_EVERY) => {}
            }
            let rows = Stats::get(&show.stats.done);
            let of = show.total.map(|t| format!("/{t}")).unwrap_or_default();
            say(&format!(
                "progress: {rows}{of} rows · {} · {:.0}s",
                line(&show),
                started.elapsed().as_secs_f64()
            ));
        },
        Display::Bar => {
            let bar = ProgressBar::with_draw_target(show.total, ProgressDrawTarget::stderr());
            let template = if show.total.is_some() {
                "{bar:25.cyan/blue} {pos}/{len} rows · eta {eta} · {msg}"
            } else {
                "{spinner} {pos} rows · {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            if let Ok(mut slot) = BAR.lock() {
                *slot = Some(bar.clone());
            }
            loop {
                bar.set_position(Stats::get(&show.stats.done));
                bar.set_message(line(&show));
                tokio::select! {
                    _ = done.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
            if let Ok(mut slot) = BAR.lock() {
                *slot = None;
            }
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape("x\ny\r\t"), "x\\ny\\r\\t");
        assert_eq!(escape("Zoë"), "Zoë");
        assert_eq!(escape("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn the_retry_guard_counts_while_it_lives() {
        let stats = Stats::default();
        {
            let _a = stats.retrying();
            let _b = stats.retrying();
            assert_eq!(Stats::get(&stats.retrying), 2);
        }
        assert_eq!(Stats::get(&stats.retrying), 0);
    }
}
