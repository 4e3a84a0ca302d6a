//! The responder's answers, end to end against the simulator: are the users
//! out and since when (the sessions a reset leaves, *locked out by*), and
//! where did each code go (the dry run's channel per row, its counts, the
//! plan's SMS and email warnings).

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use cognito_reset::simulator::{AppClient, Config, DEFAULT_POOL, PoolSettings, TimeUnit, Validity};
use common::*;
use serde_json::Value;

const EMAIL_FIRST: &str = "us-east-1_EmailFirst";
const PHONE_FIRST: &str = "us-east-1_PhoneFirst";

fn validity(value: u64, unit: TimeUnit) -> Validity {
    Validity { value, unit }
}

fn app(name: &str, refresh: Validity, access: Validity, id: Validity) -> AppClient {
    AppClient {
        name: name.into(),
        refresh,
        access,
        id,
        units: true,
    }
}

fn summary(w: &Workdir, name: &str) -> Value {
    serde_json::from_str(&w.read(name)).unwrap()
}

fn pool<'a>(summary: &'a Value, id: &str) -> &'a Value {
    summary["pools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no pool {id} in {summary:#}"))
}

fn time(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The latest `completed_at` of the rows of `pool` whose user was signed
/// out, read from the report itself.
fn last_sign_out(w: &Workdir, report: &str, pool: &str) -> SystemTime {
    w.report(report)
        .iter()
        .filter(|r| r["user_pool_id"] == pool && r["signed_out"] == "true")
        .map(|r| time(&r["completed_at"]))
        .max()
        .unwrap()
}

/// `user_pool_id,username` rows.
fn csv_of(rows: &[(&str, &str)]) -> String {
    let mut text = "username,user_pool_id\n".to_owned();
    for (pool, user) in rows {
        text.push_str(&format!("{user},{pool}\n"));
    }
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_warns_that_a_reset_leaves_sessions_alive_only_without_global_sign_out() {
    let w = Workdir::new("answers-warning");
    let sim = simulator(|c| {
        c.clients.insert(
            DEFAULT_POOL.into(),
            vec![
                app(
                    "web",
                    validity(30, TimeUnit::Days),
                    validity(1, TimeUnit::Hours),
                    validity(1, TimeUnit::Hours),
                ),
                app(
                    "kiosk",
                    validity(90, TimeUnit::Days),
                    validity(5, TimeUnit::Minutes),
                    validity(5, TimeUnit::Minutes),
                ),
            ],
        );
    })
    .await;
    w.write("in.txt", "alice\nbob\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--report", "a.csv"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("a reset ends no session"))
        .collect();
    assert_eq!(warnings.len(), 1, "one line per pool: {err}");
    assert!(
        warnings[0].contains("up to 90 days") && warnings[0].contains("--global-sign-out"),
        "{err}"
    );
    assert!(
        err.contains("sessions NOT ended"),
        "the summary says so too: {err}"
    );
    let args = ["in.txt", "--yes", "--report", "b.csv", "--global-sign-out"];
    let out = run(&w.dir, &sim, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("a reset ends no session"), "{err}");
    assert!(
        err.contains("tokens issued before the run stop working by")
            && err.contains(
                "1 hour, the longest access/ID-token validity of the pool's 2 app clients"
            ),
        "{err}"
    );
}

fn pools_with_different_clients(c: &mut Config) {
    let minutes = |n| validity(n, TimeUnit::Minutes);
    let hours = |n| validity(n, TimeUnit::Hours);
    let days = |n| validity(n, TimeUnit::Days);
    for pool in ["us-east-1_Minutes", "us-east-1_Hours", "us-east-1_Days"] {
        c.add_pool(pool);
    }
    // The ID token of one client outlives every access token: 2 hours.
    c.clients.insert(
        "us-east-1_Minutes".into(),
        vec![
            app("web", days(30), minutes(15), minutes(120)),
            app("admin", hours(10), minutes(30), minutes(20)),
        ],
    );
    c.clients.insert(
        "us-east-1_Hours".into(),
        vec![AppClient {
            // Without TokenValidityUnits: 3 is in hours.
            units: false,
            ..app("legacy", days(7), hours(3), hours(1))
        }],
    );
    c.clients.insert(
        "us-east-1_Days".into(),
        vec![
            app("mobile", days(3650), days(1), hours(1)),
            app("web", days(1), minutes(5), minutes(5)),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn locked_out_by_is_the_last_sign_out_plus_the_longest_access_or_id_validity() {
    let w = Workdir::new("answers-locked");
    let sim = simulator(pools_with_different_clients).await;
    let rows = [
        ("us-east-1_Minutes", "alice"),
        ("us-east-1_Minutes", "bob"),
        ("us-east-1_Hours", "carol"),
        ("us-east-1_Days", "dan"),
        ("us-east-1_Days", "erin"),
    ];
    w.write("in.csv", &csv_of(&rows));
    let args = [
        "in.csv",
        "--yes",
        "--global-sign-out",
        "--summary",
        "s.json",
    ];
    let out = command(&w.dir, &sim, &args).output().await.unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let plan_estimates = err
        .lines()
        .filter(|l| l.contains("sessions: tokens issued before the run stop working by"))
        .filter(|l| l.contains("(estimated"))
        .count();
    assert_eq!(plan_estimates, 3, "the plan estimates each pool: {err}");
    let s = summary(&w, "s.json");
    let expected = [
        ("us-east-1_Minutes", 2 * 3600),
        ("us-east-1_Hours", 3 * 3600),
        ("us-east-1_Days", 86_400),
    ];
    for (id, longest) in expected {
        let p = pool(&s, id);
        let last = last_sign_out(&w, "in.report.csv", id);
        assert_eq!(time(p["last_sign_out_at"].as_str().unwrap()), last, "{id}");
        assert_eq!(
            time(p["locked_out_by"].as_str().unwrap()),
            last + Duration::from_secs(longest),
            "{id}: {p:#}"
        );
        assert_eq!(p["not_signed_out"], 0);
    }
    let days = pool(&s, "us-east-1_Days")["app_clients"].clone();
    assert_eq!(days[0]["refresh_token_validity_seconds"], 3650 * 86_400);
    assert_eq!(days[0]["access_token_validity_seconds"], 86_400);
    let hours = &pool(&s, "us-east-1_Hours")["app_clients"][0];
    assert_eq!(hours["refresh_token_validity_seconds"], 7 * 86_400);
    assert_eq!(hours["access_token_validity_seconds"], 3 * 3600);
    let minutes = &pool(&s, "us-east-1_Minutes")["app_clients"][1];
    assert_eq!(minutes["id_token_validity_seconds"], 20 * 60);
    assert!(
        err.contains("+ 2 hours, the longest access/ID-token validity of the pool's 2 app clients"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resume_moves_locked_out_by_to_its_own_last_sign_out_and_keeps_it_from_the_report() {
    let w = Workdir::new("answers-resume");
    let sim = simulator(|c| {
        c.users.push(cognito_reset::simulator::SeedUser {
            fail: Some("InternalErrorException".into()),
            fail_times: Some(1),
            fail_operation: Some("AdminUserGlobalSignOut".into()),
            ..seed("flaky")
        });
    })
    .await;
    w.write("in.txt", "alice\nflaky\n");
    let (first, err) = signed_out_run(&w, &sim, &["--summary", "a.json"], 1).await;
    assert_eq!(first["not_signed_out"], 1, "{first:#}");
    assert!(
        err.contains("NOT for the 1 user whose sign-out failed"),
        "{err}"
    );
    let alice_out = time(first["last_sign_out_at"].as_str().unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resume = ["--resume", "--summary", "b.json"];
    let (second, _) = signed_out_run(&w, &sim, &resume, 0).await;
    let flaky_out = last_sign_out(&w, "in.report.csv", DEFAULT_POOL);
    assert!(flaky_out > alice_out);
    assert_eq!(
        time(second["last_sign_out_at"].as_str().unwrap()),
        flaky_out
    );
    assert_eq!(
        time(second["locked_out_by"].as_str().unwrap()),
        flaky_out + Duration::from_secs(3600)
    );
    assert_eq!(second["not_signed_out"], 0);
    // A resume with nothing left to do signs nobody out: the whole report
    // still says when its users were.
    let resume = ["--resume", "--summary", "c.json"];
    let (third, _) = signed_out_run(&w, &sim, &resume, 0).await;
    assert_eq!(third["locked_out_by"], second["locked_out_by"], "{third:#}");
}

/// A run of `in.txt` with `--global-sign-out`, one attempt per call, that
/// ends with `code`: the default pool's record in its summary, and stderr.
async fn signed_out_run(
    w: &Workdir,
    sim: &cognito_reset::simulator::Simulator,
    more: &[&str],
    code: i32,
) -> (Value, String) {
    let base = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--max-attempts",
        "1",
    ];
    let out = run(&w.dir, sim, &[&base[..], more].concat()).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    let name = more[more.iter().position(|a| *a == "--summary").unwrap() + 1];
    (pool(&summary(w, name), DEFAULT_POOL).clone(), err)
}

/// Users of both pools: email only, phone only, both, neither (would
/// fail), and neither but already RESET_REQUIRED (reset without a code).
fn contact_seeds(c: &mut Config) {
    c.pools.insert(EMAIL_FIRST.into(), PoolSettings::default());
    c.pools.insert(
        PHONE_FIRST.into(),
        PoolSettings {
            recovery: vec!["verified_phone_number".into(), "verified_email".into()],
            ..PoolSettings::default()
        },
    );
    for pool in [EMAIL_FIRST, PHONE_FIRST] {
        let mut user = |name: &str, email: bool, phone: bool, status: &str| {
            c.users.push(cognito_reset::simulator::SeedUser {
                user_pool_id: Some(pool.into()),
                email: (!email).then_some(None),
                phone_verified: Some(phone),
                status: Some(status.into()),
                ..seed(name)
            });
        };
        user("email-only", true, false, "CONFIRMED");
        user("phone-only", false, true, "CONFIRMED");
        user("both", true, true, "CONFIRMED");
        user("neither", false, false, "CONFIRMED");
        user("reset-neither", false, false, "RESET_REQUIRED");
    }
}

const CONTACT_USERS: [&str; 5] = [
    "email-only",
    "phone-only",
    "both",
    "neither",
    "reset-neither",
];

fn contact_rows() -> String {
    let rows: Vec<(&str, &str)> = [EMAIL_FIRST, PHONE_FIRST]
        .into_iter()
        .flat_map(|p| CONTACT_USERS.map(|u| (p, u)))
        .collect();
    csv_of(&rows)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dry_run_predicts_each_codes_channel_and_a_real_run_sends_it_there() {
    let w = Workdir::new("answers-channels");
    let sim = simulator(contact_seeds).await;
    w.write("in.csv", &contact_rows());
    let args = ["in.csv", "--dry-run", "--summary", "dry.json"];
    let out = command(&w.dir, &sim, &args).output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "neither would fail: {}",
        stderr(&out)
    );
    let rows = w.report("in.dry-run.report.csv");
    for (pool, user, outcome, channel) in PREDICTED {
        let r = rows
            .iter()
            .find(|r| r["user_pool_id"] == pool && r["username"] == user)
            .unwrap();
        assert_eq!(
            (r["outcome"].as_str(), r["channel"].as_str()),
            (outcome, channel),
            "{pool} {user}"
        );
    }
    let dry = summary(&w, "dry.json");
    let counts = |p: &Value| p["codes_by_channel"].clone();
    let email_first = serde_json::json!({"email": 2, "sms": 1, "none": 1});
    let phone_first = serde_json::json!({"email": 1, "sms": 2, "none": 1});
    assert_eq!(counts(pool(&dry, EMAIL_FIRST)), email_first);
    assert_eq!(counts(pool(&dry, PHONE_FIRST)), phone_first);

    let out = command(&w.dir, &sim, &["in.csv", "--yes", "--summary", "real.json"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "neither fails: {}",
        stderr(&out)
    );
    sent_where_predicted(&sim);
    let real = summary(&w, "real.json");
    for (id, predicted) in [(EMAIL_FIRST, &email_first), (PHONE_FIRST, &phone_first)] {
        let p = pool(&real, id);
        assert_eq!(&p["predicted_codes_by_channel"], predicted, "{id}");
        // The run read no contact: it sent four codes whose channel it
        // cannot tell by itself.
        assert_eq!(
            p["codes_by_channel"],
            serde_json::json!({"unknown": 4}),
            "{id}"
        );
    }
}

/// What the dry run predicts for each user of [`contact_seeds`].
const PREDICTED: [(&str, &str, &str, &str); 10] = [
    (EMAIL_FIRST, "email-only", "would_reset", "email"),
    (EMAIL_FIRST, "phone-only", "would_reset", "sms"),
    (EMAIL_FIRST, "both", "would_reset", "email"),
    (EMAIL_FIRST, "neither", "would_fail", ""),
    (EMAIL_FIRST, "reset-neither", "would_reset", "none"),
    (PHONE_FIRST, "email-only", "would_reset", "email"),
    (PHONE_FIRST, "phone-only", "would_reset", "sms"),
    (PHONE_FIRST, "both", "would_reset", "sms"),
    (PHONE_FIRST, "neither", "would_fail", ""),
    (PHONE_FIRST, "reset-neither", "would_reset", "none"),
];

/// Where the simulator sent each code is where the dry run said it would go.
fn sent_where_predicted(sim: &cognito_reset::simulator::Simulator) {
    let state = sim.state();
    for (pool, user, _, channel) in PREDICTED {
        let u = state.user(pool, user).unwrap();
        let went = match (u.emails_sent, u.sms_sent, u.resets_without_code) {
            (1, 0, 0) => "email",
            (0, 1, 0) => "sms",
            (0, 0, 1) => "none",
            (0, 0, 0) => "",
            other => panic!("{pool} {user}: {other:?}"),
        };
        assert_eq!(went, channel, "{pool} {user}");
    }
    let totals = state.totals();
    assert_eq!((totals.codes_by_email, totals.codes_by_sms), (3, 3));
    assert_eq!(totals.resets_without_code, 2);
}

/// The plan's warning lines for a pool.
fn plan_lines(err: &str, word: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.contains(word))
        .map(str::to_owned)
        .collect()
}

/// A real run of `in.csv` into `report`: its stderr.
async fn real_run(w: &Workdir, sim: &cognito_reset::simulator::Simulator, report: &str) -> String {
    let args = ["in.csv", "--yes", "--report", report];
    stderr(&command(&w.dir, sim, &args).output().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_dry_run_the_sms_and_email_warnings_say_the_counts_are_unknown() {
    let w = Workdir::new("answers-unknown");
    let sim = simulator(contact_seeds).await;
    w.write("in.csv", &contact_rows());
    let err = real_run(&w, &sim, "a.csv").await;
    let sms = plan_lines(&err, "codes go by SMS");
    assert_eq!(sms.len(), 1, "only the phone-first pool: {err}");
    assert!(
        sms[0].contains("recovery by phone first") && sms[0].contains("unknown"),
        "{err}"
    );
    assert!(
        sms[0].contains("1 USD a month") && sms[0].contains("sandbox"),
        "{err}"
    );
    let email = plan_lines(&err, "50 emails a day");
    assert_eq!(email.len(), 2, "{err}");
    assert!(
        email.iter().all(|l| l.contains("by email unknown")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sms_and_email_warnings_use_the_counts_a_dry_run_of_the_same_input_predicted() {
    let w = Workdir::new("answers-warnings");
    let sim = simulator(contact_seeds).await;
    w.write("in.csv", &contact_rows());
    let dry = command(&w.dir, &sim, &["in.csv", "--dry-run"])
        .output()
        .await
        .unwrap();
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    let err = real_run(&w, &sim, "b.csv").await;
    let sms = plan_lines(&err, "codes go by SMS");
    assert_eq!(
        sms.len(),
        2,
        "the phone-only user of the email-first pool: {err}"
    );
    let with_count = |lines: &[String], n: u64| {
        lines
            .iter()
            .filter(|l| l.contains(&format!(" {n} (predicted by the dry run of ")))
            .count()
    };
    assert!(
        sms.iter()
            .any(|l| l.contains("users with only a verified phone")),
        "{err}"
    );
    assert_eq!((with_count(&sms, 1), with_count(&sms, 2)), (1, 1), "{err}");
    let email = plan_lines(&err, "50 emails a day");
    assert_eq!(
        (with_count(&email, 2), with_count(&email, 1)),
        (1, 1),
        "{err}"
    );

    // The same name for another input: its predictions are not this run's.
    w.write(
        "in.csv",
        &format!("{}extra,{EMAIL_FIRST}\n", contact_rows()),
    );
    let err = real_run(&w, &sim, "c.csv").await;
    assert!(err.contains("belongs to another input"), "{err}");
    assert!(
        plan_lines(&err, "50 emails a day")
            .iter()
            .all(|l| l.contains("unknown")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_permission_to_read_app_clients_the_run_goes_on_bounded_by_a_day() {
    let w = Workdir::new("answers-denied");
    let sim = simulator(|c| {
        c.deny.insert("ListUserPoolClients".into());
    })
    .await;
    w.write("in.txt", "alice\n");
    let args = [
        "in.txt",
        "--yes",
        "--global-sign-out",
        "--summary",
        "s.json",
    ];
    let out = run(&w.dir, &sim, &args).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("the app clients could not be read (AccessDeniedException"),
        "{err}"
    );
    let s = summary(&w, "s.json");
    let p = pool(&s, DEFAULT_POOL);
    assert!(p["app_clients"].is_null(), "{p:#}");
    let last = time(p["last_sign_out_at"].as_str().unwrap());
    assert_eq!(
        time(p["locked_out_by"].as_str().unwrap()),
        last + Duration::from_secs(86_400)
    );
    assert!(err.contains("1 day, the longest Cognito allows"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_runs_report_resumes_in_its_own_columns_and_verifies() {
    let w = Workdir::new("answers-dry-resume");
    let sim = simulator(contact_seeds).await;
    w.write("in.csv", &contact_rows());
    for extra in [&[][..], &["--resume"][..]] {
        let args = [&["in.csv", "--dry-run"][..], extra].concat();
        let out = command(&w.dir, &sim, &args).output().await.unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    let rows = w.report("in.dry-run.report.csv");
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|r| r.contains_key("channel")));
    let verify = tokio::process::Command::new(BIN)
        .args(["verify", "in.dry-run.report.csv"])
        .current_dir(&w.dir)
        .output()
        .await
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jsonl_dry_run_report_names_the_channel_of_each_would_reset_row() {
    let w = Workdir::new("answers-jsonl");
    let sim = simulator(contact_seeds).await;
    w.write("in.csv", &contact_rows());
    let args = ["in.csv", "--dry-run", "--report", "d.jsonl"];
    let out = command(&w.dir, &sim, &args).output().await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows: Vec<Value> = w
        .read("d.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let channels: HashMap<String, Option<String>> = rows
        .iter()
        .filter(|r| r["user_pool_id"] == PHONE_FIRST)
        .map(|r| {
            let channel = r.get("channel").and_then(|c| c.as_str()).map(str::to_owned);
            (r["username"].as_str().unwrap().to_owned(), channel)
        })
        .collect();
    assert_eq!(channels["both"].as_deref(), Some("sms"));
    assert_eq!(channels["reset-neither"].as_deref(), Some("none"));
    assert_eq!(channels["neither"], None, "a would_fail row has no channel");
}

/// A dry run's report as a version without the channel column wrote it.
fn older_dry_run_report(w: &Workdir, input: &str) {
    use cognito_reset::report::{Chain, Outcome, Record, ReportWriter, header_bytes};
    let path = w.path("in.dry-run.report.csv");
    let header = header_bytes(&path, false);
    std::fs::write(&path, &header).unwrap();
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let mut writer = ReportWriter::new(file, &path, false, Chain::start(&header)).unwrap();
    let record = Record::local(1, "alice", DEFAULT_POOL, Outcome::WouldReset, "", "");
    writer.write(&record).unwrap();
    writer.sync().unwrap();
    let mut journal = journal_header(input).replace("\"mode\":\"reset\"", "\"mode\":\"dry_run\"");
    journal.push_str("{\"run\":\"r1\",\"pid\":4242,\"started\":\"2026-11-24T00:00:00Z\"}\n");
    w.write("in.dry-run.report.csv.journal", &journal);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_dry_runs_report_without_the_channel_column_is_started_afresh_not_resumed() {
    let w = Workdir::new("answers-older");
    let sim = simulator(|_| {}).await;
    w.write("in.txt", "alice\n");
    older_dry_run_report(&w, "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--dry-run", "--resume"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("without the channel column") && err.contains("--overwrite"),
        "{err}"
    );
    // A real run does not take it for a prediction of channels.
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("predates the channel column"), "{err}");
    assert!(err.contains("by email unknown"), "{err}");
    let out = run(&w.dir, &sim, &["in.txt", "--dry-run", "--overwrite"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Reset by the real run, alice still has her verified email.
    assert_eq!(w.report("in.dry-run.report.csv")[0]["channel"], "email");
}

#[tokio::test(flavor = "multi_thread")]
async fn app_clients_are_read_page_by_page_within_their_own_quota() {
    let w = Workdir::new("answers-pages");
    let sim = simulator(|c| {
        c.quotas.user_pool_client_read = Some(15.0);
        let mut clients: Vec<AppClient> = (0..60)
            .map(|i| AppClient {
                name: format!("client{i:02}"),
                ..AppClient::default()
            })
            .collect();
        // The last, on the second page, issues the longest-lived tokens.
        clients.push(app(
            "late",
            validity(30, TimeUnit::Days),
            validity(1, TimeUnit::Days),
            validity(1, TimeUnit::Hours),
        ));
        c.clients.insert(DEFAULT_POOL.into(), clients);
    })
    .await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes", "--global-sign-out"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("+ 1 day, the longest access/ID-token validity of the pool's 61 app clients"),
        "{err}"
    );
    assert_eq!(calls(&sim, "ListUserPoolClients"), 2);
    assert_eq!(calls(&sim, "DescribeUserPoolClient"), 61);
    let totals = sim.state().totals();
    assert_eq!(
        totals.throttled_by_category.get("UserPoolClientRead"),
        None,
        "10/s stays under the 15/s quota"
    );
}

/// Regression: with `--global-sign-out`, users left with a working password
/// (a reset that could not reach them, a reset that failed) were never
/// signed out, yet `not_signed_out` was 0 and the summary said every token
/// issued before the run stops working.
#[tokio::test(flavor = "multi_thread")]
async fn users_left_with_a_working_password_count_as_not_signed_out() {
    let w = Workdir::new("answers-kept-not-signed-out");
    let sim = simulator(|c| c.users.push(failing("bob", "InternalErrorException"))).await;
    w.write("in.txt", "alice\nunverified-x\nforce-change-y\nbob\n");
    let (p, err) = signed_out_run(&w, &sim, &["--summary", "s.json"], 1).await;
    assert_eq!(p["not_signed_out"], 3, "{p:#}");
    assert!(
        err.contains("NOT for the 3 users who keep a working password (never signed out)"),
        "{err}"
    );
}

/// Regression: a pool without a recovery setting (Cognito then prefers SMS
/// for a user with a verified phone) got no SMS warning in the plan.
#[tokio::test(flavor = "multi_thread")]
async fn a_pool_without_a_recovery_setting_is_warned_of_sms() {
    let w = Workdir::new("answers-legacy-recovery");
    let sim = simulator(|c| {
        let legacy = PoolSettings {
            recovery: Vec::new(),
            ..PoolSettings::default()
        };
        c.pools.insert(DEFAULT_POOL.into(), legacy);
        c.users.push(cognito_reset::simulator::SeedUser {
            phone_verified: Some(true),
            ..seed("alice")
        });
    })
    .await;
    w.write("in.txt", "alice\n");
    let out = run(&w.dir, &sim, &["in.txt", "--yes"]).await;
    let err = stderr(&out);
    let sms = plan_lines(&err, "codes go by SMS");
    assert_eq!(sms.len(), 1, "{err}");
    assert!(sms[0].contains("no recovery setting"), "{err}");
}

/// Regression: a dry run killed part way was read back as complete: the
/// plan gave its counts as whole and no SMS warning though users it never
/// reached may get SMS, and the summary recorded its counts as the
/// prediction.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_dry_runs_predictions_are_marked_partial_and_sms_is_warned() {
    let s = Scenario::new("answers-partial-dry-run")
        .sim(|c| {
            c.users
                .extend((0..40).map(|i| cognito_reset::simulator::SeedUser {
                    email: Some(None),
                    phone_verified: Some(true),
                    ..seed(&format!("phone-{i:02}"))
                }))
        })
        .file(
            "in.txt",
            &(0..40)
                .map(|i| format!("phone-{i:02}\n"))
                .collect::<String>(),
        );
    let mut dry = s.spawn(&["in.txt", "--dry-run", "--rate", "5"]).await;
    dry.wait_for_rows(3).await;
    dry.kill().await;
    real_run_warns_sms_from_a_partial_prediction(&s).await;
}

/// Regression: a dry run that excluded users the real run does not, or
/// whose checks failed for a while, counted as a complete prediction: the
/// real run's SMS warning understated, or went away, and 6 codes went by
/// SMS where the plan warned of none.
#[tokio::test(flavor = "multi_thread")]
async fn users_a_dry_run_did_not_predict_keep_its_counts_partial() {
    let phone = |name: &str| cognito_reset::simulator::SeedUser {
        email: Some(None),
        phone_verified: Some(true),
        ..seed(name)
    };
    let checks_fail = |name: &str| cognito_reset::simulator::SeedUser {
        fail: Some("InternalErrorException".into()),
        fail_operation: Some("AdminGetUser".into()),
        ..phone(name)
    };
    let s = Scenario::new("answers-dry-not-predicted")
        .sim(|c| {
            c.users.extend([
                phone("p1"),
                phone("p2"),
                checks_fail("p3"),
                checks_fail("p4"),
            ])
        })
        .file("in.txt", "p1\np2\np3\np4\n")
        .file("ex.txt", "p1\np2\n");
    let dry = [
        "in.txt",
        "--dry-run",
        "--yes",
        "--exclude",
        "ex.txt",
        "--max-attempts",
        "1",
    ];
    s.run(&dry).await;
    real_run_warns_sms_from_a_partial_prediction(&s).await;
}

/// The real run over `in.txt` after a dry run that did not predict every
/// user: its plan warns once that codes go by SMS, as "at least" so many,
/// and its summary records the prediction as partial.
async fn real_run_warns_sms_from_a_partial_prediction(s: &Scenario) {
    let out = s.run(&["in.txt", "--yes", "--summary", "s.json"]).await;
    let err = &out.stderr;
    let sms = plan_lines(err, "codes go by SMS");
    assert_eq!(sms.len(), 1, "{err}");
    assert!(sms[0].contains("at least"), "{err}");
    let p = pool(&out.summary(), DEFAULT_POOL).clone();
    assert_eq!(p["predicted_partial"], true, "{p:#}");
}

/// Regression: the 50-emails-a-day warning counted each pool on its own
/// though the cap is the account's: three pools of 20 users each were
/// each said to stay under it, and the run stopped at the limit.
#[tokio::test(flavor = "multi_thread")]
async fn the_daily_email_cap_is_counted_over_the_pools_that_share_it() {
    let w = Workdir::new("answers-email-cap-shared");
    let pools = ["us-east-1_CapA", "us-east-1_CapB", "us-east-1_CapC"];
    let sim = simulator(|c| {
        for pool in pools {
            c.add_pool(pool);
        }
    })
    .await;
    let mut csv = String::from("username,user_pool_id\n");
    for pool in pools {
        for i in 0..20 {
            csv.push_str(&format!("u{i:02},{pool}\n"));
        }
    }
    w.write("in.csv", &csv);
    let err = stderr(&run(&w.dir, &sim, &["in.csv", "--dry-run", "--yes"]).await);
    let shared = plan_lines(&err, "share");
    assert!(
        shared
            .iter()
            .any(|l| l.contains("60 codes") && l.contains("50 emails a day")),
        "{err}"
    );
}

/// Regression: a resume's plan said the run "may send up to 3 codes" where
/// 2 of the 3 users were already reset.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumes_plan_counts_only_the_codes_it_may_still_send() {
    let w = Workdir::new("answers-resume-estimate");
    let sim = simulator(|c| {
        c.users.push(cognito_reset::simulator::SeedUser {
            fail_times: Some(1),
            ..failing("carol", "InternalErrorException")
        })
    })
    .await;
    w.write("in.txt", "alice\nbob\ncarol\n");
    let first = ["in.txt", "--yes", "--max-attempts", "1"];
    assert_eq!(run(&w.dir, &sim, &first).await.status.code(), Some(1));
    let again = ["in.txt", "--yes", "--resume"];
    let out = run(&w.dir, &sim, &again).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("may send up to 1 codes"), "{err}");
}

/// Regression: a phone-first pool whose complete dry run predicted no SMS
/// was still warned "codes go by SMS: 0".
#[tokio::test(flavor = "multi_thread")]
async fn no_sms_warning_where_a_whole_dry_run_predicted_no_sms() {
    let w = Workdir::new("answers-sms-zero");
    let sim = simulator(|c| {
        let phone_first = PoolSettings {
            recovery: vec!["verified_phone_number".into(), "verified_email".into()],
            ..PoolSettings::default()
        };
        c.pools.insert(DEFAULT_POOL.into(), phone_first);
    })
    .await;
    w.write("in.txt", "alice\nbob\n");
    let dry = run(&w.dir, &sim, &["in.txt", "--dry-run", "--yes"]).await;
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let err = stderr(&run(&w.dir, &sim, &["in.txt", "--yes"]).await);
    assert!(plan_lines(&err, "codes go by SMS").is_empty(), "{err}");
}

/// Regression: a resume's plan warned that every code the dry run
/// predicted would go by SMS ("SMS: 300"), though most users were done.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumes_sms_warning_counts_only_users_not_yet_done() {
    let phone = |i: usize| format!("phone-{i:02}");
    let s = Scenario::new("answers-resume-sms")
        .sim(|c| {
            c.users
                .extend((0..10).map(|i| cognito_reset::simulator::SeedUser {
                    email: Some(None),
                    phone_verified: Some(true),
                    ..seed(&phone(i))
                }))
        })
        .file(
            "in.txt",
            &(0..10).map(|i| phone(i) + "\n").collect::<String>(),
        );
    s.run(&["in.txt", "--dry-run", "--yes"])
        .await
        .assert_code(0);
    s.run(&["in.txt", "--yes"]).await.assert_code(0);
    // Every user is done: the resume sends no code at all.
    let out = s.run(&["in.txt", "--yes", "--resume"]).await;
    let err = &out.stderr;
    let sms = plan_lines(err, "codes go by SMS");
    assert_eq!(sms.len(), 1, "{err}");
    assert!(sms[0].contains("at most 0,"), "{err}");
}
