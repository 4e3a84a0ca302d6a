//! The run as an audit record: the summary's fields, the committed JSON
//! Schemas for the summary and the JSONL report, completions and the manual.

mod common;

use cognito_reset::simulator::DEFAULT_POOL;
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn schema(name: &str) -> jsonschema::Validator {
    let path = format!("{}/schema/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, value: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{value:#}");
}

fn summary(w: &Workdir, name: &str) -> Value {
    serde_json::from_str(&w.read(name)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn summaries_of_a_run_a_resume_and_a_dry_run_match_the_schema() {
    let w = Workdir::new("audit-schema");
    let sim = simulator(|_| {}).await;
    w.write(
        "in.txt",
        "alice\nmissing-bob\nunverified-carol\nhas space\nalice\n",
    );
    let validator = schema("summary.schema.json");
    let base = ["in.txt", "--yes", "--global-sign-out", "--reason", "INC-42"];
    let out = run(
        &w.dir,
        &sim,
        &[&base[..], &["--summary", "a.json"]].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_valid(&validator, &summary(&w, "a.json"));
    let out = run(
        &w.dir,
        &sim,
        &[&base[..], &["--summary", "b.json", "--resume"]].concat(),
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let b = summary(&w, "b.json");
    assert_valid(&validator, &b);
    assert!(
        b["whole_report"].is_object(),
        "a resume covers the whole report"
    );
    assert_eq!(b["whole_report"]["outcomes"]["reset"], 1);
    assert_eq!(b["counts"]["outcomes"]["skipped"], 1);
    assert_eq!(b["runs"].as_array().unwrap().len(), 2);
    let out = run(
        &w.dir,
        &sim,
        &["in.txt", "--dry-run", "--summary", "c.json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let c = summary(&w, "c.json");
    assert_valid(&validator, &c);
    assert_eq!(c["mode"], "dry_run");
}

#[tokio::test(flavor = "multi_thread")]
async fn jsonl_report_rows_match_the_schema() {
    let w = Workdir::new("audit-rows");
    let sim = simulator(|_| {}).await;
    w.write(
        "in.txt",
        "alice\nmissing-bob\nhas space\nalice\nunverified-u\n",
    );
    let validator = schema("report-row.schema.json");
    for (report, extra) in [
        ("plain.jsonl", vec![]),
        ("signed.jsonl", vec!["--global-sign-out"]),
    ] {
        let mut args = vec!["in.txt", "--yes", "--report", report];
        args.extend(extra);
        let out = run(&w.dir, &sim, &args).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        for line in w.read(report).lines() {
            assert_valid(&validator, &serde_json::from_str(line).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_says_who_ran_what_when_why_and_with_what_result() {
    let w = Workdir::new("audit-fields");
    let sim = simulator(|_| {}).await;
    let input = "alice\nbob\n";
    w.write("in.txt", input);
    let args = [
        "in.txt",
        "--yes",
        "--reason",
        "INC-2026-1124 credential stuffing",
        "--client-metadata",
        "ticket=hidden-value",
        "--summary",
        "s.json",
    ];
    let out = run(&w.dir, &sim, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = summary(&w, "s.json");
    assert_eq!(s["tool"], "cognito-reset");
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["reason"], "INC-2026-1124 credential stuffing");
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["mode"], "reset");
    let digest: String = Sha256::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(s["input"]["sha256"], digest);
    assert_eq!(s["input"]["path"], "in.txt");
    assert_eq!(s["pools"][0]["id"], DEFAULT_POOL);
    assert_eq!(s["regions"][0], "us-east-1");
    assert_eq!(s["counts"]["outcomes"]["reset"], 2);
    assert_eq!(s["calls"]["UserAccountRecovery"]["calls"], 2);
    let line = s["command_line"].to_string();
    assert!(
        line.contains("ticket=<value removed>") && !line.contains("hidden-value"),
        "{line}"
    );
    assert!(s["started_at"].as_str().unwrap() <= s["ended_at"].as_str().unwrap());
    assert_eq!(s["run_id"], s["runs"][0]["run"]);
    let out = run(&w.dir, &sim, &[&args[..], &["--resume"]].concat()).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = summary(&w, "s.json");
    assert_ne!(
        again["run_id"], s["run_id"],
        "each resume has its own run id"
    );
    assert_eq!(again["runs"][0]["run"], s["run_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_and_the_manual_are_printed() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = tokio::process::Command::new(BIN)
            .args(["completions", shell])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("global-sign-out") && text.contains("unresettable"),
            "{shell}"
        );
    }
    let out = tokio::process::Command::new(BIN)
        .arg("man")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(man.starts_with(".ie") || man.contains(".TH"), "{man}");
    assert!(man.contains("global\\-sign\\-out"), "{man}");
}

#[tokio::test(flavor = "multi_thread")]
async fn help_shows_examples_and_exit_codes() {
    let out = tokio::process::Command::new(BIN)
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "Examples:",
        "--simulate",
        "--dry-run",
        "--resume",
        "Exit codes:",
        "128+N",
    ] {
        assert!(help.contains(expected), "{expected}: {help}");
    }
}
