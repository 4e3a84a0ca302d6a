//! Resume checks against real files in a scratch directory.

use std::io::Write;

use super::*;
use crate::keys::row_key;
use crate::report::{Record, ReportWriter};

struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cr-resume-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const POOL: &str = "eu-west-1_P";

fn record(username: &str, outcome: Outcome, signed_out: Option<bool>) -> Record {
    let mut r = Record::local(1, username, POOL, outcome, "", "");
    r.signed_out = signed_out;
    r
}

/// Writes a report and its journal as a run would have.
fn make_report(path: &Path, header: &Header, records: &[Record], intents: &[&str]) {
    let layout = Layout::of_run(header.sign_out, header.mode == "dry_run");
    let bytes = crate::report::header_bytes(path, layout);
    let file = files::create_with(path, &bytes).unwrap();
    let chain = crate::report::Chain::start(&bytes);
    let mut w = ReportWriter::new(file, path, layout, chain).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.sync().unwrap();
    let mut text = serde_json::to_string(header).unwrap();
    text.push('\n');
    text.push_str("{\"run\":\"r1\",\"pid\":4242,\"started\":\"2026-11-24T00:00:00Z\"}\n");
    for user in intents {
        text.push_str(&format!("{{\"pool\":\"{POOL}\",\"user\":\"{user}\"}}\n"));
    }
    std::fs::write(journal::path_for(path), text).unwrap();
}

fn expect(header: &Header) -> Expect<'_> {
    Expect {
        header,
        sign_out: header.sign_out,
        check_all: false,
        summary_chain: None,
    }
}

fn key(pool: &str, user: &str) -> u64 {
    row_key(pool, user, false)
}

#[test]
fn a_missing_report_is_nothing_to_resume() {
    let s = Scratch::new("missing");
    let header = Header::new("fp", false, false);
    let err = open(&s.0.join("r.csv"), &expect(&header)).err().unwrap();
    assert!(err.to_string().contains("nothing to resume"), "{err}");
    assert!(!s.0.join("r.csv").exists(), "a resume never starts afresh");
}

#[test]
fn a_file_that_is_not_a_report_is_refused_untouched() {
    let s = Scratch::new("foreign");
    let path = s.0.join("users.csv");
    let content = "username\nalice\nbob";
    std::fs::write(&path, content).unwrap();
    let header = Header::new("fp", false, false);
    let err = open(&path, &expect(&header)).err().unwrap();
    assert!(
        err.to_string().contains("not a cognito-reset report"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        content,
        "not cut, not appended"
    );
}

#[test]
fn another_input_or_mode_is_refused() {
    let s = Scratch::new("mode");
    let path = s.0.join("r.csv");
    make_report(&path, &Header::new("fp-a", false, false), &[], &[]);
    let other = Header::new("fp-b", false, false);
    let err = open(&path, &expect(&other)).err().unwrap();
    assert!(err.to_string().contains("different input"), "{err}");
    let dry = Header::new("fp-a", true, false);
    let err = open(&path, &expect(&dry)).err().unwrap();
    assert!(err.to_string().contains("a real run"), "{err}");
    let signing = Header::new("fp-a", false, true);
    let err = open(&path, &expect(&signing)).err().unwrap();
    assert!(err.to_string().contains("--global-sign-out"), "{err}");
}

#[test]
fn a_lost_journal_refuses_unless_every_row_is_checked() {
    let s = Scratch::new("lost");
    let path = s.0.join("r.csv");
    let header = Header::new("fp", false, false);
    make_report(&path, &header, &[record("a", Outcome::Reset, None)], &[]);
    for journal in ["", "garbage\n"] {
        std::fs::write(journal::path_for(&path), journal).unwrap();
        let err = open(&path, &expect(&header)).err().unwrap();
        assert!(err.to_string().contains("--check-all"), "{err}");
    }
    std::fs::remove_file(journal::path_for(&path)).unwrap();
    let err = open(&path, &expect(&header)).err().unwrap();
    assert!(err.to_string().contains("--check-all"), "{err}");
    let all = Expect {
        check_all: true,
        ..expect(&header)
    };
    let mut opened = open(&path, &all).unwrap();
    assert!(opened.journal_lost);
    let earlier = read(&mut opened, &path, &all, key).unwrap();
    assert!(earlier.check_all);
}

#[test]
fn a_report_held_by_another_run_names_its_process() {
    let s = Scratch::new("locked");
    let path = s.0.join("r.csv");
    let header = Header::new("fp", false, false);
    make_report(&path, &header, &[], &[]);
    let _first = open(&path, &expect(&header)).unwrap();
    let err = open(&path, &expect(&header)).err().unwrap();
    assert!(matches!(err, StartError::Locked(_)));
    assert!(err.to_string().contains("process 4242"), "{err}");
}

#[test]
fn the_latest_outcome_wins_and_owed_sign_outs_and_intents_are_found() {
    let s = Scratch::new("read");
    for name in ["r.csv", "r.jsonl"] {
        let path = s.0.join(name);
        let header = Header::new("fp", false, true);
        let records = [
            record("alice", Outcome::Failed, None),
            record("alice", Outcome::Reset, Some(true)),
            record("bob", Outcome::Reset, Some(false)),
            record("carol", Outcome::Skipped, None),
            record("dave", Outcome::Reset, Some(true)),
            record("dave", Outcome::Failed, None),
        ];
        // No checkpoint: each reset recorded is held against the journal,
        // which holds it, as the run that wrote it left it.
        let intents = ["alice", "erin", "dave", "bob"];
        make_report(&path, &header, &records, &intents);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"9,frank,eu-west-1_P,res")
            .unwrap();
        let e = expect(&header);
        let mut opened = open(&path, &e).unwrap();
        let earlier = read(&mut opened, &path, &e, key).unwrap();
        assert!(earlier.torn_line, "{name}");
        assert_eq!(earlier.unbacked, 0, "{name}");
        assert_eq!(earlier.records, 6, "{name}");
        let done = |u: &str| earlier.done.get(key(POOL, u)).filter(|d| d.is_done());
        assert_eq!(done("alice").map(Done::owes_sign_out), Some(false));
        assert_eq!(done("bob").map(Done::owes_sign_out), Some(true));
        assert!(
            done("dave").is_none(),
            "a later failure says it is not done"
        );
        // A skipped row says the user was done when it was written (by an
        // earlier row, or by a report --skip-done named).
        assert!(done("carol").is_some_and(|d| !d.owes_sign_out()));
        let mut uncertain: Vec<&str> = earlier
            .uncertain
            .values()
            .map(|pending| pending.user.as_str())
            .collect();
        uncertain.sort();
        assert_eq!(
            uncertain,
            ["dave", "erin"],
            "{name}: intents without a done outcome"
        );
        assert!(
            std::fs::read(&path).unwrap().ends_with(b"\n"),
            "the torn line is cut"
        );
    }
}

#[test]
fn scanning_never_fails_on_garbage() {
    let mut seen = 0;
    for (format, bytes) in [
        (ReportFormat::Csv, &b"\xff\xfe,\n\"unterminated\n1,a,b"[..]),
        (ReportFormat::Jsonl, &b"{\n[]\n{\"username\":5}\n"[..]),
    ] {
        let mut reader = Reader::new(format, b"", true);
        for line in bytes.split(|b| *b == b'\n') {
            seen += usize::from(reader.next(line).is_ok());
        }
    }
    assert_eq!(seen, 0);
}

#[test]
fn done_packs_what_a_resume_needs() {
    let d = Done::new(Outcome::Disabled, "InvalidParameterException", Some(false));
    assert!(d.is_done() && d.owes_sign_out());
    assert_eq!(d.outcome(), Outcome::Disabled);
    assert_eq!(d.earlier(), Owed::Disabled(RefusalCode::InvalidParameter));
    assert_eq!(d.signed_out(), Some(false));
    let r = Done::new(Outcome::Reset, "", None);
    assert_eq!((r.outcome(), r.signed_out()), (Outcome::Reset, None));
    let f = Done::new(Outcome::Failed, "UserNotFoundException", None);
    assert!(!f.is_done() && !f.owes_sign_out());
    assert_eq!(f.outcome(), Outcome::Failed);
    assert!(Done::new(Outcome::Excluded, "", None).is_excluded());
}

/// Regression: a dry run records `failed` when its checks are refused; the
/// mode check took that for a real run's outcome and refused the resume.
#[test]
fn a_dry_runs_report_with_a_failed_row_resumes_as_a_dry_run() {
    let s = Scratch::new("dry-failed");
    let path = s.0.join("r.csv");
    let header = Header::new("fp", true, false);
    let rows = [
        record("a", Outcome::WouldReset, None),
        record("b", Outcome::Failed, None),
    ];
    make_report(&path, &header, &rows, &[]);
    let e = expect(&header);
    let mut opened = open(&path, &e).unwrap();
    assert_eq!(read(&mut opened, &path, &e, key).unwrap().records, 2);
    drop(opened);
    let real = Header::new("fp", false, false);
    assert!(
        open(&path, &expect(&real)).is_err(),
        "a real run may not resume it"
    );
}
