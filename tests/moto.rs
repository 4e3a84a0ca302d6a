//! End-to-end against moto_server, a Cognito implementation nobody here wrote.
//!
//! `.ci/run` starts moto and sets `MOTO_URL`; without it these tests skip
//! (and say how to run them), except under CI, where they must run.

mod common;

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{
    AccountRecoverySettingType, AttributeType, AuthFlowType, ExplicitAuthFlowsType,
    RecoveryOptionNameType, RecoveryOptionType, UserStatusType, UsernameConfigurationType,
};
use common::*;

fn moto_url() -> Option<String> {
    match std::env::var("MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| !v.is_empty()) => {
            panic!("CI is set but MOTO_URL is not: .ci/run must start moto_server")
        }
        _ => {
            eprintln!(
                "skipped: set MOTO_URL to a running moto_server (pip install 'moto[cognitoidp,server]'; \
                 moto_server -p 5000; MOTO_URL=http://127.0.0.1:5000 cargo test --test moto)"
            );
            None
        }
    }
}

async fn client(url: &str) -> cip::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(cip::config::Region::new("us-east-1"))
        .credentials_provider(cip::config::Credentials::new(
            "moto", "moto", None, None, "test",
        ))
        .load()
        .await;
    cip::Client::new(&config)
}

const PASSWORD: &str = "Correct-Horse-9!";

struct Pool {
    client: cip::Client,
    id: String,
}

impl Pool {
    async fn new(url: &str, name: &str) -> Pool {
        Pool::with(url, name, |b| b).await
    }

    /// A pool with settings.
    async fn with(
        url: &str,
        name: &str,
        settings: impl FnOnce(
            cip::operation::create_user_pool::builders::CreateUserPoolFluentBuilder,
        )
            -> cip::operation::create_user_pool::builders::CreateUserPoolFluentBuilder,
    ) -> Pool {
        let client = client(url).await;
        let out = settings(client.create_user_pool().pool_name(name))
            .send()
            .await
            .unwrap();
        let id = out.user_pool().unwrap().id().unwrap().to_owned();
        Pool { client, id }
    }

    /// A user in the given state: CONFIRMED with a verified email by default.
    async fn user(&self, name: &str, confirmed: bool, verified: bool, enabled: bool) {
        let attr = |n: &str, v: &str| AttributeType::builder().name(n).value(v).build().unwrap();
        self.client
            .admin_create_user()
            .user_pool_id(&self.id)
            .username(name)
            .user_attributes(attr("email", &format!("{name}@example.com")))
            .user_attributes(attr(
                "email_verified",
                if verified { "true" } else { "false" },
            ))
            .message_action(cip::types::MessageActionType::Suppress)
            .send()
            .await
            .unwrap();
        if confirmed {
            self.client
                .admin_set_user_password()
                .user_pool_id(&self.id)
                .username(name)
                .password(PASSWORD)
                .permanent(true)
                .send()
                .await
                .unwrap();
        }
        if !enabled {
            self.client
                .admin_disable_user()
                .user_pool_id(&self.id)
                .username(name)
                .send()
                .await
                .unwrap();
        }
    }

    async fn get(&self, name: &str) -> cip::operation::admin_get_user::AdminGetUserOutput {
        self.client
            .admin_get_user()
            .user_pool_id(&self.id)
            .username(name)
            .send()
            .await
            .unwrap()
    }

    async fn enabled(&self, name: &str) -> bool {
        self.get(name).await.enabled()
    }

    async fn status(&self, name: &str) -> UserStatusType {
        self.get(name).await.user_status().unwrap().clone()
    }
}

/// A run against `pool`.
async fn tool(s: &Scenario, pool: &Pool, args: &[&str]) -> Run {
    s.run(&[args, &["--user-pool-id", &pool.id, "--yes"]].concat())
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_state_gives_the_expected_outcome_and_dry_run_predicts_it() {
    let Some(url) = moto_url() else { return };
    let s = Scenario::new("moto-states").endpoint(&url);
    let pool = Pool::new(&url, "states").await;
    pool.user("ok", true, true, true).await;
    pool.user("ok2", true, true, true).await;
    pool.user("disabled", true, true, false).await;
    pool.user("unconfirmed", false, true, true).await;
    pool.user("unverified", true, false, true).await;
    s.write(
        "in.txt",
        "ok\nok2\ndisabled\nunconfirmed\nunverified\nghost\n",
    );

    let dry = tool(&s, &pool, &["in.txt", "--dry-run", "--rate", "auto"]).await;
    dry.assert_code(1);
    // moto has no GetProvisionedLimit: --rate auto falls back and says so.
    dry.assert_says("GetProvisionedLimit gave no quota");
    assert_eq!(
        pool.status("ok").await,
        UserStatusType::Confirmed,
        "dry run changed nothing"
    );

    let real = tool(&s, &pool, &["in.txt"]).await;
    real.assert_code(1);
    let real_rows = real.rows();
    let dry_rows = dry.rows();
    let expected = [
        ("ok", "reset", ""),
        ("ok2", "reset", ""),
        ("disabled", "failed", "NotAuthorizedException"),
        ("unconfirmed", "failed", "NotAuthorizedException"),
        ("unverified", "failed", "InvalidParameterException"),
        ("ghost", "failed", "UserNotFoundException"),
    ];
    for (user, outcome, code) in expected {
        let r = row(&real_rows, user);
        assert_eq!(
            (r["outcome"].as_str(), r["error_code"].as_str()),
            (outcome, code),
            "{user}"
        );
        let d = row(&dry_rows, user);
        let predicted = if outcome == "reset" {
            "would_reset"
        } else {
            "would_fail"
        };
        assert_eq!(
            (d["outcome"].as_str(), d["error_code"].as_str()),
            (predicted, code),
            "{user}"
        );
    }
    assert_eq!(pool.status("ok").await, UserStatusType::ResetRequired);
    assert_eq!(pool.status("ok2").await, UserStatusType::ResetRequired);
    assert_eq!(pool.status("unverified").await, UserStatusType::Confirmed);
}

#[tokio::test(flavor = "multi_thread")]
async fn from_pool_with_a_filter_resets_exactly_the_enabled_users() {
    let Some(url) = moto_url() else { return };
    let s = Scenario::new("moto-frompool").endpoint(&url);
    let pool = Pool::new(&url, "listing").await;
    for i in 0..75 {
        pool.user(&format!("user{i:03}"), true, true, true).await;
    }
    pool.user("off1", true, true, false).await;
    pool.user("off2", true, true, false).await;
    let out = tool(
        &s,
        &pool,
        &[
            "--from-pool",
            "--filter",
            "status = \"Enabled\"",
            "--report",
            "r.csv",
            "--rate",
            "500",
        ],
    )
    .await;
    out.assert_code(0);
    let rows = out.rows();
    assert_eq!(rows.len(), 75);
    assert!(rows.iter().all(|r| r["outcome"] == "reset"));
    assert_eq!(pool.status("user074").await, UserStatusType::ResetRequired);
    assert_eq!(pool.status("off1").await, UserStatusType::Confirmed);
}

#[tokio::test(flavor = "multi_thread")]
async fn global_sign_out_revokes_refresh_tokens_issued_before_the_run() {
    let Some(url) = moto_url() else { return };
    let s = Scenario::new("moto-signout").endpoint(&url);
    let pool = Pool::new(&url, "signout").await;
    pool.user("alice", true, true, true).await;
    let app = pool
        .client
        .create_user_pool_client()
        .user_pool_id(&pool.id)
        .client_name("app")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap();
    let client_id = app
        .user_pool_client()
        .unwrap()
        .client_id()
        .unwrap()
        .to_owned();
    let auth = pool
        .client
        .admin_initiate_auth()
        .user_pool_id(&pool.id)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let refresh = auth
        .authentication_result()
        .unwrap()
        .refresh_token()
        .unwrap()
        .to_owned();
    let refresh_with = |token: String| {
        pool.client
            .admin_initiate_auth()
            .user_pool_id(&pool.id)
            .client_id(&client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", token)
            .send()
    };
    assert!(
        refresh_with(refresh.clone()).await.is_ok(),
        "the token works before the run"
    );
    s.write("in.txt", "alice\n");
    let out = tool(&s, &pool, &["in.txt", "--global-sign-out"]).await;
    out.assert_code(0);
    let rows = out.rows();
    assert_eq!(rows[0]["signed_out"], "true");
    assert!(
        refresh_with(refresh).await.is_err(),
        "the refresh token was revoked"
    );
}

fn recovery(names: &[RecoveryOptionNameType]) -> AccountRecoverySettingType {
    let mut setting = AccountRecoverySettingType::builder();
    for (i, name) in names.iter().enumerate() {
        setting = setting.recovery_mechanisms(
            RecoveryOptionType::builder()
                .name(name.clone())
                .priority(i as i32 + 1)
                .build()
                .unwrap(),
        );
    }
    setting.build()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_preflight_reads_each_pools_settings_from_describe_user_pool() {
    let Some(url) = moto_url() else { return };
    let s = Scenario::new("moto-preflight").endpoint(&url);
    let admin = Pool::with(&url, "admin-only", |b| {
        b.account_recovery_setting(recovery(&[RecoveryOptionNameType::AdminOnly]))
    })
    .await;
    admin.user("alice", true, true, true).await;
    s.write("in.txt", "alice\n");
    let out = tool(&s, &admin, &["in.txt"]).await;
    out.assert_code(2);
    out.assert_says("admin_only");
    assert!(
        !s.exists("in.report.csv"),
        "a run that could not start leaves nothing"
    );
    assert_eq!(admin.status("alice").await, UserStatusType::Confirmed);
    let phone = Pool::with(&url, "phone-first", |b| {
        b.account_recovery_setting(recovery(&[
            RecoveryOptionNameType::VerifiedPhoneNumber,
            RecoveryOptionNameType::VerifiedEmail,
        ]))
    })
    .await;
    phone.user("alice", true, true, true).await;
    let out = tool(&s, &phone, &["in.txt"]).await;
    out.assert_code(0);
    let err = &out.stderr;
    assert!(
        err.contains("SMS") && err.contains("50 emails a day"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_case_insensitive_pool_treats_alice_and_alice_capitalised_as_one_user() {
    let Some(url) = moto_url() else { return };
    let s = Scenario::new("moto-case").endpoint(&url);
    let pool = Pool::with(&url, "case-insensitive", |b| {
        b.username_configuration(
            UsernameConfigurationType::builder()
                .case_sensitive(false)
                .build()
                .unwrap(),
        )
    })
    .await;
    pool.user("Alice", true, true, true).await;
    s.write("in.txt", "Alice\nalice\n");
    let out = tool(&s, &pool, &["in.txt"]).await;
    out.assert_code(0);
    let rows = out.rows();
    let second = row(&rows, "alice");
    assert_eq!(second["outcome"], "duplicate");
    assert!(second["error_message"].contains("line 1"), "{second:?}");
    assert_eq!(pool.status("Alice").await, UserStatusType::ResetRequired);
}

#[tokio::test(flavor = "multi_thread")]
async fn users_a_reset_cannot_reach_are_disabled_and_signed_out() {
    let Some(url) = moto_url() else { return };
    let s = Scenario::new("moto-disable").endpoint(&url);
    let pool = Pool::new(&url, "unreachable").await;
    pool.user("ok", true, true, true).await;
    pool.user("unverified", true, false, true).await;
    pool.user("forced", false, true, true).await; // FORCE_CHANGE_PASSWORD
    s.write("in.txt", "ok\nunverified\nforced\n");
    let out = tool(
        &s,
        &pool,
        &["in.txt", "--unresettable", "disable", "--global-sign-out"],
    )
    .await;
    out.assert_code(0);
    let row = |u: &str| out.row(u);
    assert_eq!(row("ok")["outcome"], "reset");
    for user in ["unverified", "forced"] {
        assert_eq!(row(user)["outcome"], "disabled", "{user}");
        assert_eq!(row(user)["signed_out"], "true", "{user}");
        assert!(!pool.enabled(user).await, "{user} is disabled in moto");
    }
    assert!(pool.enabled("ok").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_listing_predicts_from_the_listed_status_without_checks() {
    let Some(url) = moto_url() else { return };
    let s = Scenario::new("moto-listing").endpoint(&url);
    let pool = Pool::new(&url, "listed").await;
    pool.user("ok", true, true, true).await;
    pool.user("forced", false, true, true).await;
    pool.user("off", true, true, false).await;
    let out = tool(
        &s,
        &pool,
        &["--from-pool", "--dry-run", "--report", "d.csv"],
    )
    .await;
    out.assert_code(1);
    let rows = out.rows();
    let row = |u: &str| common::row(&rows, u).clone();
    assert_eq!(row("ok")["outcome"], "would_reset");
    assert_eq!(row("forced")["outcome"], "would_fail");
    assert_eq!(row("off")["outcome"], "would_fail");
    assert!(
        rows.iter().all(|r| r["attempts"] == "0"),
        "the listing said it all: {rows:?}"
    );
    let out = tool(
        &s,
        &pool,
        &[
            "--from-pool",
            "--unresettable",
            "disable",
            "--report",
            "r.csv",
        ],
    )
    .await;
    assert_eq!(out.code, Some(1), "the disabled user fails: {}", out.stderr);
    let rows = out.rows();
    let forced = common::row(&rows, "forced");
    assert_eq!(
        (forced["outcome"].as_str(), forced["attempts"].as_str()),
        ("disabled", "1")
    );
    assert!(!pool.enabled("forced").await);
    assert_eq!(pool.status("ok").await, UserStatusType::ResetRequired);
}

#[tokio::test(flavor = "multi_thread")]
async fn app_clients_token_validity_bounds_when_users_are_out() {
    let Some(url) = moto_url() else { return };
    let w = Scenario::new("moto-sessions").endpoint(&url);
    let pool = Pool::new(&url, "sessions").await;
    pool.user("alice", true, true, true).await;
    // moto answers a client made without validities with
    // RefreshTokenValidity 30 and nothing else: days, and an hour for the
    // access and ID tokens.
    pool.client
        .create_user_pool_client()
        .user_pool_id(&pool.id)
        .client_name("default")
        .send()
        .await
        .unwrap();
    // The ID token's unit is left out: 2 is in hours, the longest of all.
    let units = cip::types::TokenValidityUnitsType::builder()
        .refresh_token(cip::types::TimeUnitsType::Hours)
        .access_token(cip::types::TimeUnitsType::Minutes)
        .build();
    pool.client
        .create_user_pool_client()
        .user_pool_id(&pool.id)
        .client_name("units")
        .refresh_token_validity(10)
        .access_token_validity(30)
        .id_token_validity(2)
        .token_validity_units(units)
        .send()
        .await
        .unwrap();
    w.write("in.txt", "alice\n");
    let out = tool(&w, &pool, &["in.txt", "--dry-run"]).await;
    out.assert_says("stay valid for up to 30 days");
    let args = ["in.txt", "--global-sign-out", "--summary", "s.json"];
    tool(&w, &pool, &args).await.assert_code(0);
    let s: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    let p = &s["pools"][0];
    let validities = validities(p);
    assert!(validities.contains(&(30 * 86_400, 3600, 3600)), "{p:#}");
    assert!(
        validities.contains(&(10 * 3600, 30 * 60, 2 * 3600)),
        "{p:#}"
    );
    let time = |k: &str| humantime::parse_rfc3339(p[k].as_str().unwrap()).unwrap();
    assert_eq!(
        time("locked_out_by"),
        time("last_sign_out_at") + std::time::Duration::from_secs(2 * 3600)
    );
}

/// Each app client's (refresh, access, ID) validity in a summary's pool.
fn validities(pool: &serde_json::Value) -> Vec<(u64, u64, u64)> {
    pool["app_clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let n = |k: &str| c[k].as_u64().unwrap();
            (
                n("refresh_token_validity_seconds"),
                n("access_token_validity_seconds"),
                n("id_token_validity_seconds"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dry_run_reads_each_users_verified_contacts_for_its_channel() {
    let Some(url) = moto_url() else { return };
    let w = Scenario::new("moto-channels").endpoint(&url);
    let pool = Pool::with(&url, "channels", |b| {
        b.account_recovery_setting(recovery(&[
            RecoveryOptionNameType::VerifiedEmail,
            RecoveryOptionNameType::VerifiedPhoneNumber,
        ]))
    })
    .await;
    pool.user("email-only", true, true, true).await;
    let attr = |n: &str, v: &str| AttributeType::builder().name(n).value(v).build().unwrap();
    for (name, email) in [("phone-only", false), ("both", true)] {
        let mut create = pool
            .client
            .admin_create_user()
            .user_pool_id(&pool.id)
            .username(name)
            .user_attributes(attr("phone_number", "+15555550100"))
            .user_attributes(attr("phone_number_verified", "true"))
            .message_action(cip::types::MessageActionType::Suppress);
        if email {
            create = create
                .user_attributes(attr("email", "both@example.com"))
                .user_attributes(attr("email_verified", "true"));
        }
        create.send().await.unwrap();
        pool.client
            .admin_set_user_password()
            .user_pool_id(&pool.id)
            .username(name)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await
            .unwrap();
    }
    w.write("in.txt", "email-only\nphone-only\nboth\n");
    tool(&w, &pool, &["in.txt", "--dry-run"])
        .await
        .assert_code(0);
    let rows = w.report("in.dry-run.report.csv");
    let channel = |u: &str| rows.iter().find(|r| r["username"] == u).unwrap()["channel"].clone();
    assert_eq!(channel("email-only"), "email");
    assert_eq!(channel("phone-only"), "sms");
    assert_eq!(channel("both"), "email");
    // The real run's plan counts the SMS the dry run predicted.
    let out = tool(&w, &pool, &["in.txt"]).await;
    out.assert_code(0)
        .assert_says("users with only a verified phone): 1 (predicted by the dry run");
}
