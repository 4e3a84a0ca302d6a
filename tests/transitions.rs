//! Each transition of a row's life, in-process: the library's pool and
//! writer driving real SDK calls against the simulator, judged by the
//! records and by what the simulator saw.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cognito_reset::cognito::{Aws, Connection, UserState};
use cognito_reset::input::{Duplicates, Exclusions, Item, Row};
use cognito_reset::keys::row_key;
use cognito_reset::life::Policy;
use cognito_reset::limiter::{Limiters, Rates};
use cognito_reset::pool::{self, Pipeline, Pools};
use cognito_reset::preflight::PoolMap;
use cognito_reset::progress::Stats;
use cognito_reset::report::{
    Chain, Outcome, Record, ReportFormat, ReportWriter, header_bytes, read_whole,
};
use cognito_reset::resume::{Done, Earlier};
use cognito_reset::retry::{Backoff, Caller};
use cognito_reset::shutdown::Stop;
use cognito_reset::simulator::{DEFAULT_POOL, SeedUser, Simulator};
use cognito_reset::writer::Writer;
use common::*;

const REAL: Policy = Policy {
    dry_run: false,
    sign_out: false,
    disable_unreachable: false,
    resend_unchecked: false,
    max_attempts: 4,
    classify: true,
};

/// What earlier runs left, for the rows that need it.
#[derive(Default)]
struct Before {
    uncertain: Vec<&'static str>,
    owes_sign_out: Vec<&'static str>,
    /// The intent journal of a real run.
    journal: Option<cognito_reset::journal::Journal>,
}

/// Runs `rows` through the pool; returns each user's record.
async fn drive(
    sim: &Simulator,
    policy: Policy,
    rows: Vec<Row>,
    before: Before,
) -> HashMap<String, Record> {
    let w = Workdir::new(&format!("transitions-{}", rows[0].username));
    let aws = Aws::load(&Connection {
        endpoint_url: Some(sim.url()),
        dummy_credentials: true,
        attempt_timeout: Duration::from_secs(5),
        ..Connection::default()
    })
    .await
    .unwrap();
    let stop = Arc::new(Stop::default());
    let stats = Arc::new(Stats::default());
    let caller = Arc::new(Caller {
        backoff: Backoff {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
        limiters: Arc::new(Limiters::new(Rates::default())),
        stop: stop.clone(),
        stats: stats.clone(),
        in_flight: tokio::sync::Semaphore::new(64),
        pauses: Arc::default(),
    });
    let key = |u: &str| row_key(DEFAULT_POOL, u, false);
    let mut earlier = Earlier::default();
    for user in before.uncertain {
        let pending = cognito_reset::journal::Pending {
            pool: DEFAULT_POOL.into(),
            user: user.into(),
            disable: false,
        };
        earlier.uncertain.insert(key(user), pending);
    }
    for user in before.owes_sign_out {
        earlier
            .done
            .insert(key(user), Done::new(Outcome::Reset, "", Some(false)));
    }
    let earlier = Arc::new(earlier);
    let path = w.path("r.jsonl");
    let file =
        cognito_reset::files::create_with(&path, &header_bytes(&path, policy.sign_out)).unwrap();
    let writer = Writer {
        report: ReportWriter::new(
            file,
            &path,
            policy.sign_out,
            Chain::start(&header_bytes(&path, policy.sign_out)),
        )
        .unwrap(),
        stats,
        stop,
        max_failure_rate: None,
        verbose: false,
        earlier: earlier.clone(),
        journal: None,
    };
    let pipeline = Pipeline {
        policy,
        concurrency: 4,
        caller,
        pools: Arc::new(PoolMap::new(aws, None)) as Arc<dyn Pools>,
        earlier,
        duplicates: Duplicates::All(HashMap::new()),
        exclusions: Exclusions::default(),
        journal: before.journal,
        metadata: Vec::new(),
        settle: Duration::from_millis(20),
        drain: true,
    };
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        for row in rows {
            tx.send(vec![Item::Row(row)]).await.unwrap();
        }
    });
    let finished = pool::execute(rx, pipeline, writer).await;
    drop(finished);
    let mut records = HashMap::new();
    let mut file = std::fs::File::open(&path).unwrap();
    read_whole(&mut file, ReportFormat::Jsonl, |r: &Record, _| {
        records.insert(r.username.clone(), r.clone());
    })
    .unwrap();
    records
}

fn row(username: &str) -> Row {
    Row {
        line: 1,
        username: username.into(),
        pool: DEFAULT_POOL.into(),
        metadata: Vec::new(),
        known: None,
    }
}

fn user(sim: &Simulator, name: &str) -> cognito_reset::simulator::User {
    sim.state()
        .user(DEFAULT_POOL, name)
        .unwrap_or_else(|| panic!("{name} unknown"))
}

fn seeded(status: &str) -> impl Fn(&str) -> SeedUser {
    let status = status.to_owned();
    move |name| {
        let mut s = seed(name);
        s.status = Some(status.clone());
        s
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_then_sign_out() {
    let sim = simulator(|_| {}).await;
    let policy = Policy {
        sign_out: true,
        ..REAL
    };
    let r = drive(&sim, policy, vec![row("alice")], Before::default()).await;
    let a = &r["alice"];
    assert_eq!(
        (a.outcome, a.signed_out, a.attempts),
        (Outcome::Reset, Some(true), 2)
    );
    assert_eq!(
        (
            user(&sim, "alice").resets_succeeded,
            user(&sim, "alice").sign_outs
        ),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_is_checked_then_sent_again() {
    let sim = simulator(|c| {
        let mut flaky = seed("flaky");
        flaky.fail = Some("InternalErrorException".into());
        flaky.fail_times = Some(1);
        c.users = vec![flaky];
    })
    .await;
    let r = drive(&sim, REAL, vec![row("flaky")], Before::default()).await;
    let f = &r["flaky"];
    assert_eq!(
        (f.outcome, f.attempts),
        (Outcome::Reset, 3),
        "reset, check, reset"
    );
    let u = user(&sim, "flaky");
    assert_eq!((u.reset_calls, u.get_calls, u.resets_succeeded), (2, 1, 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uncertain_row_found_reset_is_confirmed_without_a_call() {
    let sim = simulator(|c| c.users = vec![seeded("RESET_REQUIRED")("done")]).await;
    let before = Before {
        uncertain: vec!["done", "pending"],
        ..Before::default()
    };
    let r = drive(&sim, REAL, vec![row("done"), row("pending")], before).await;
    assert_eq!(r["done"].outcome, Outcome::Reset);
    assert!(
        r["done"]
            .error_message
            .contains("confirmed by an AdminGetUser check")
    );
    assert_eq!(user(&sim, "done").reset_calls, 0);
    assert_eq!(r["pending"].outcome, Outcome::Reset);
    let p = user(&sim, "pending");
    assert_eq!((p.get_calls, p.reset_calls), (1, 1), "checked, then sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_users_are_classified_disabled_and_signed_out() {
    let sim = simulator(|c| c.users = vec![seeded("FORCE_CHANGE_PASSWORD")("forced")]).await;
    let policy = Policy {
        sign_out: true,
        disable_unreachable: true,
        ..REAL
    };
    let rows = vec![row("forced"), row("unverified-u")];
    let r = drive(&sim, policy, rows, Before::default()).await;
    for name in ["forced", "unverified-u"] {
        let rec = &r[name];
        assert_eq!(
            (rec.outcome, rec.signed_out),
            (Outcome::Disabled, Some(true)),
            "{name}"
        );
        assert_eq!(rec.attempts, 4, "{name}: reset, check, disable, sign-out");
        let u = user(&sim, name);
        assert!(!u.enabled && u.sign_outs == 1, "{name}");
    }
    assert_eq!(r["forced"].error_code, "NotAuthorizedException");
    assert_eq!(r["unverified-u"].error_code, "InvalidParameterException");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_remediation_unreachable_users_fail_and_keep_their_password() {
    let sim = simulator(|_| {}).await;
    let r = drive(&sim, REAL, vec![row("unverified-u")], Before::default()).await;
    assert_eq!(r["unverified-u"].outcome, Outcome::Failed);
    assert!(
        r["unverified-u"]
            .error_message
            .contains("keeps a working password")
    );
    assert!(user(&sim, "unverified-u").enabled);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_federated_user_is_signed_out_and_never_disabled() {
    let sim = simulator(|c| c.users = vec![seeded("EXTERNAL_PROVIDER")("fed")]).await;
    let policy = Policy {
        sign_out: true,
        disable_unreachable: true,
        ..REAL
    };
    let r = drive(&sim, policy, vec![row("fed")], Before::default()).await;
    let f = &r["fed"];
    assert_eq!((f.outcome, f.signed_out), (Outcome::Failed, Some(true)));
    assert!(
        f.error_message.contains("identity provider"),
        "{}",
        f.error_message
    );
    let u = user(&sim, "fed");
    assert!(u.enabled, "never disabled");
    assert_eq!(u.sign_outs, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_user_is_failed_without_more_calls() {
    let sim = simulator(|_| {}).await;
    let policy = Policy {
        disable_unreachable: true,
        ..REAL
    };
    let r = drive(&sim, policy, vec![row("disabled-d")], Before::default()).await;
    assert_eq!(
        (r["disabled-d"].outcome, r["disabled-d"].attempts),
        (Outcome::Failed, 1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_row_owing_its_sign_out_is_only_signed_out() {
    let sim = simulator(|_| {}).await;
    let policy = Policy {
        sign_out: true,
        ..REAL
    };
    let before = Before {
        owes_sign_out: vec!["owed"],
        ..Before::default()
    };
    let r = drive(&sim, policy, vec![row("owed")], before).await;
    assert_eq!(
        (r["owed"].outcome, r["owed"].signed_out),
        (Outcome::Reset, Some(true))
    );
    let u = user(&sim, "owed");
    assert_eq!((u.reset_calls, u.sign_outs), (0, 1), "no second reset");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_predicts_each_state_with_one_read() {
    let sim = simulator(|c| c.users = vec![seeded("FORCE_CHANGE_PASSWORD")("forced")]).await;
    let policy = Policy {
        dry_run: true,
        ..REAL
    };
    let rows = ["ok", "missing-m", "disabled-d", "forced", "unverified-u"]
        .map(row)
        .to_vec();
    let r = drive(&sim, policy, rows, Before::default()).await;
    let got: Vec<(&str, Outcome, &str)> =
        ["ok", "missing-m", "disabled-d", "forced", "unverified-u"]
            .iter()
            .map(|n| (*n, r[*n].outcome, r[*n].error_code.as_str()))
            .collect();
    assert_eq!(
        got,
        [
            ("ok", Outcome::WouldReset, ""),
            ("missing-m", Outcome::WouldFail, "UserNotFoundException"),
            ("disabled-d", Outcome::WouldFail, "NotAuthorizedException"),
            ("forced", Outcome::WouldFail, "NotAuthorizedException"),
            (
                "unverified-u",
                Outcome::WouldFail,
                "InvalidParameterException"
            ),
        ]
    );
    assert_eq!(calls(&sim, "AdminResetUserPassword"), 0);
    assert!(r.values().all(|r| r.attempts == 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_state_is_used_without_a_check() {
    let sim = simulator(|c| c.users = vec![seeded("FORCE_CHANGE_PASSWORD")("forced")]).await;
    let policy = Policy {
        disable_unreachable: true,
        ..REAL
    };
    let mut forced = row("forced");
    forced.known = Some(UserState {
        status: "FORCE_CHANGE_PASSWORD".into(),
        enabled: true,
        email_verified: true,
        phone_verified: false,
    });
    let r = drive(&sim, policy, vec![forced], Before::default()).await;
    assert_eq!(
        (r["forced"].outcome, r["forced"].attempts),
        (Outcome::Disabled, 1)
    );
    let u = user(&sim, "forced");
    assert_eq!(
        (u.reset_calls, u.get_calls),
        (0, 0),
        "the listing already said"
    );
}

/// Rows whose first call is a reset are journaled in batches by the
/// dispatcher before they start: every user the simulator saw reset has its
/// intent in the journal (not yet rewritten by the run's end), and no more
/// than one reset each.
#[tokio::test(flavor = "multi_thread")]
async fn every_reset_sent_has_its_intent_synced_in_the_journal() {
    use cognito_reset::journal::{self, Header, RunLine};
    let sim = simulator(|_| {}).await;
    let w = Workdir::new("transitions-journal");
    let path = w.path("r.jsonl.journal");
    let header = Header::new("fp", false, false);
    let open = cognito_reset::files::Open::CreateNew;
    let sticky = journal::Sticky::default();
    let (journal, _file) =
        journal::open(&path, open, &header, &[], &RunLine::now(), true, &sticky).unwrap();
    let names: Vec<String> = (0..50).map(|i| format!("batch{i:02}")).collect();
    let before = Before {
        journal,
        ..Before::default()
    };
    let r = drive(&sim, REAL, names.iter().map(|n| row(n)).collect(), before).await;
    let journaled = journal::read(&path, |_, _| true).unwrap().unwrap().intents;
    let mut users: Vec<&str> = journaled.iter().map(|p| p.user.as_str()).collect();
    users.sort();
    assert_eq!(users, names.iter().map(String::as_str).collect::<Vec<_>>());
    for name in &names {
        assert_eq!(r[name].outcome, Outcome::Reset);
        assert_eq!(user(&sim, name).reset_calls, 1, "{name}");
    }
}
