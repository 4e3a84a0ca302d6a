//! End-to-end against moto_server, a Cognito implementation nobody here wrote.
//!
//! `.ci/run` starts moto and sets `MOTO_URL`; without it these tests skip
//! (and say how to run them), except under CI, where they must run.

mod common;

use std::process::Output;

use aws_sdk_cognitoidentityprovider as cip;
use cip::types::{AttributeType, AuthFlowType, ExplicitAuthFlowsType, UserStatusType};
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
        let client = client(url).await;
        let out = client
            .create_user_pool()
            .pool_name(name)
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

    async fn status(&self, name: &str) -> UserStatusType {
        let out = self
            .client
            .admin_get_user()
            .user_pool_id(&self.id)
            .username(name)
            .send()
            .await
            .unwrap();
        out.user_status().unwrap().clone()
    }
}

async fn tool(w: &Workdir, url: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.push("--yes");
    command_at(&w.dir, url, &all).output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_state_gives_the_expected_outcome_and_dry_run_predicts_it() {
    let Some(url) = moto_url() else { return };
    let w = Workdir::new("moto-states");
    let pool = Pool::new(&url, "states").await;
    pool.user("ok", true, true, true).await;
    pool.user("ok2", true, true, true).await;
    pool.user("disabled", true, true, false).await;
    pool.user("unconfirmed", false, true, true).await;
    pool.user("unverified", true, false, true).await;
    w.write(
        "in.txt",
        "ok\nok2\ndisabled\nunconfirmed\nunverified\nghost\n",
    );
    let id = pool.id.as_str();

    let dry = tool(
        &w,
        &url,
        &[
            "in.txt",
            "--user-pool-id",
            id,
            "--dry-run",
            "--rate",
            "auto",
        ],
    )
    .await;
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    // moto has no GetProvisionedLimit: --rate auto falls back and says so.
    assert!(
        stderr(&dry).contains("auto unavailable"),
        "{}",
        stderr(&dry)
    );
    assert_eq!(
        pool.status("ok").await,
        UserStatusType::Confirmed,
        "dry run changed nothing"
    );

    let real = tool(&w, &url, &["in.txt", "--user-pool-id", id]).await;
    assert_eq!(real.status.code(), Some(1), "{}", stderr(&real));
    let real_rows = w.report("in.report.csv");
    let dry_rows = w.report("in.dry-run.report.csv");
    let expected = [
        ("ok", "reset", ""),
        ("ok2", "reset", ""),
        ("disabled", "failed", "NotAuthorizedException"),
        ("unconfirmed", "failed", "NotAuthorizedException"),
        ("unverified", "failed", "InvalidParameterException"),
        ("ghost", "failed", "UserNotFoundException"),
    ];
    for (user, outcome, code) in expected {
        let r = real_rows.iter().find(|r| r["username"] == user).unwrap();
        assert_eq!(
            (r["outcome"].as_str(), r["error_code"].as_str()),
            (outcome, code),
            "{user}"
        );
        let d = dry_rows.iter().find(|r| r["username"] == user).unwrap();
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
    let w = Workdir::new("moto-frompool");
    let pool = Pool::new(&url, "listing").await;
    for i in 0..75 {
        pool.user(&format!("user{i:03}"), true, true, true).await;
    }
    pool.user("off1", true, true, false).await;
    pool.user("off2", true, true, false).await;
    let out = tool(
        &w,
        &url,
        &[
            "--from-pool",
            "--user-pool-id",
            &pool.id,
            "--filter",
            "status = \"Enabled\"",
            "--report",
            "r.csv",
            "--rate",
            "500",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = w.report("r.csv");
    assert_eq!(rows.len(), 75);
    assert!(rows.iter().all(|r| r["outcome"] == "reset"));
    assert_eq!(pool.status("user074").await, UserStatusType::ResetRequired);
    assert_eq!(pool.status("off1").await, UserStatusType::Confirmed);
}

#[tokio::test(flavor = "multi_thread")]
async fn global_sign_out_revokes_refresh_tokens_issued_before_the_run() {
    let Some(url) = moto_url() else { return };
    let w = Workdir::new("moto-signout");
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
    w.write("in.txt", "alice\n");
    let out = tool(
        &w,
        &url,
        &["in.txt", "--user-pool-id", &pool.id, "--global-sign-out"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = w.report("in.report.csv");
    assert_eq!(rows[0]["signed_out"], "true");
    assert!(
        refresh_with(refresh).await.is_err(),
        "the refresh token was revoked"
    );
}
