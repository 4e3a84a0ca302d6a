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

/// The binary's exit code and standard output for `args`.
async fn printed(args: &[&str]) -> (Option<i32>, String) {
    let out = bin(args).output().await.unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn summaries_of_a_run_a_resume_and_a_dry_run_match_the_schema() {
    let s = Scenario::new("audit-schema").file(
        "in.txt",
        "alice\nmissing-bob\nunverified-carol\nhas space\nalice\n",
    );
    let validator = schema("summary.schema.json");
    let base = ["in.txt", "--yes", "--global-sign-out", "--reason", "INC-42"];
    let out = s.run(&[&base[..], &["--summary", "a.json"]].concat()).await;
    out.assert_code(1);
    assert_valid(&validator, &out.summary());
    let out = s
        .run(&[&base[..], &["--summary", "b.json", "--resume"]].concat())
        .await;
    out.assert_code(1);
    let b = out.summary();
    assert_valid(&validator, &b);
    assert!(
        b["whole_report"].is_object(),
        "a resume covers the whole report"
    );
    assert_eq!(b["whole_report"]["outcomes"]["reset"], 1);
    assert_eq!(b["counts"]["outcomes"]["skipped"], 1);
    assert_eq!(b["runs"].as_array().unwrap().len(), 2);
    let out = s.run(&["in.txt", "--dry-run", "--summary", "c.json"]).await;
    out.assert_code(1);
    let c = out.summary();
    assert_valid(&validator, &c);
    assert_eq!(c["mode"], "dry_run");
}

#[tokio::test(flavor = "multi_thread")]
async fn jsonl_report_rows_match_the_schema() {
    let s = Scenario::new("audit-rows").file(
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
        let out = s.run(&args).await;
        out.assert_code(1);
        for line in out.report_text().lines() {
            assert_valid(&validator, &serde_json::from_str(line).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_says_who_ran_what_when_why_and_with_what_result() {
    let input = "alice\nbob\n";
    let s = Scenario::new("audit-fields").file("in.txt", input);
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
    let out = s.run(&args).await;
    out.assert_code(0);
    let summary = out.summary();
    assert_eq!(summary["tool"], "cognito-reset");
    assert_eq!(summary["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(summary["reason"], "INC-2026-1124 credential stuffing");
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["mode"], "reset");
    let digest: String = Sha256::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(summary["input"]["sha256"], digest);
    assert_eq!(summary["input"]["path"], "in.txt");
    assert_eq!(summary["pools"][0]["id"], DEFAULT_POOL);
    assert_eq!(summary["regions"][0], "us-east-1");
    assert_eq!(summary["counts"]["outcomes"]["reset"], 2);
    assert_eq!(summary["calls"]["UserAccountRecovery"]["calls"], 2);
    let line = summary["command_line"].to_string();
    assert!(
        line.contains("ticket=<value removed>") && !line.contains("hidden-value"),
        "{line}"
    );
    assert!(summary["started_at"].as_str().unwrap() <= summary["ended_at"].as_str().unwrap());
    assert_eq!(summary["run_id"], summary["runs"][0]["run"]);
    let out = s.run(&[&args[..], &["--resume"]].concat()).await;
    out.assert_code(0);
    let again = out.summary();
    assert_ne!(
        again["run_id"], summary["run_id"],
        "each resume has its own run id"
    );
    assert_eq!(again["runs"][0]["run"], summary["run_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_and_the_manual_are_printed() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, text) = printed(&["completions", shell]).await;
        assert_eq!(code, Some(0), "{shell}");
        assert!(
            text.contains("global-sign-out") && text.contains("unresettable"),
            "{shell}"
        );
    }
    let (code, man) = printed(&["man"]).await;
    assert_eq!(code, Some(0));
    assert!(man.starts_with(".ie") || man.contains(".TH"), "{man}");
    assert!(man.contains("global\\-sign\\-out"), "{man}");
}

#[tokio::test(flavor = "multi_thread")]
async fn help_shows_examples_and_exit_codes() {
    let (code, help) = printed(&["--help"]).await;
    assert_eq!(code, Some(0));
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
