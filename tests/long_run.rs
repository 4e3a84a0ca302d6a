//! Long runs keep their promises: weather that passes by itself (expired
//! credentials, a region that goes away for a while, an endpoint that stops
//! answering) never becomes failed rows, and the operator sees what happens.
//! Each test drives the real binary against the simulator.

mod common;

use common::*;

/// Regression: a CSV holding its header and no row was refused (exit 2) as
/// if it were a failed export, while a listing that matches nobody is
/// nothing to do.
#[tokio::test(flavor = "multi_thread")]
async fn a_csv_with_only_its_header_was_refused_as_empty() {
    let w = Workdir::new("lr-header-only");
    let sim = simulator(|_| {}).await;
    w.write("in.csv", "username\n");
    let out = run(&w.dir, &sim, &["in.csv", "--yes", "--summary", "s.json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("rows 0: no rows"), "{}", stderr(&out));
    assert!(w.report("in.report.csv").is_empty());
    let summary: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["counts"]["rows"], 0);
    // The same header on standard input.
    let mut cmd = command(
        &w.dir,
        &sim,
        &[
            "-",
            "--user-pool-id",
            cognito_reset::simulator::DEFAULT_POOL,
            "--yes",
            "--report",
            "r.csv",
        ],
    );
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"username\n").await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(w.report("r.csv").is_empty());
    // A zero-byte file is still no list at all.
    w.write("empty.csv", "");
    let out = run(&w.dir, &sim, &["empty.csv", "--yes"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!w.path("empty.report.csv").exists());
}
