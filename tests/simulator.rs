//! The simulator over HTTP, as clients see it: the real Cognito and STS
//! SDKs for what they can send, raw HTTP for what they cannot.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aws_sdk_cognitoidentityprovider as cip;
use cip::error::ProvideErrorMetadata;
use cip::operation::RequestId;
use cip::types::{LimitClass, LimitDefinitionType, RecoveryOptionNameType, UserStatusType};
use cognito_reset::simulator::{Config, DEFAULT_POOL, PoolSettings, Quotas, SeedUser, Simulator};
use common::*;

async fn sdk_config(sim: &Simulator) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(sim.url())
        .region(cip::config::Region::new("us-east-1"))
        .credentials_provider(cip::config::Credentials::new(
            "AKIDTESTONLY",
            "test-secret-not-real",
            None,
            None,
            "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

async fn client(sim: &Simulator) -> cip::Client {
    cip::Client::new(&sdk_config(sim).await)
}

#[tokio::test]
async fn describe_user_pool_reports_settings_through_the_sdk() {
    let sim = simulator(|c| {
        c.pools.insert(
            "eu-west-1_Phone".into(),
            PoolSettings {
                recovery: vec!["verified_phone_number".into(), "verified_email".into()],
                case_sensitive: true,
                email_sender: Some("DEVELOPER".into()),
                groups: Vec::new(),
            },
        );
    })
    .await;
    let client = client(&sim).await;
    let out = client
        .describe_user_pool()
        .user_pool_id(DEFAULT_POOL)
        .send()
        .await
        .unwrap();
    assert!(out.request_id().is_some_and(|id| !id.is_empty()));
    let pool = out.user_pool().unwrap();
    assert_eq!(pool.id(), Some(DEFAULT_POOL));
    let sender = pool.email_configuration().unwrap().email_sending_account();
    assert_eq!(sender.map(|s| s.as_str()), Some("COGNITO_DEFAULT"));
    assert!(!pool.username_configuration().unwrap().case_sensitive());
    assert!(pool.creation_date().is_some() && pool.last_modified_date().is_some());
    let other = client
        .describe_user_pool()
        .user_pool_id("eu-west-1_Phone")
        .send()
        .await
        .unwrap();
    let other = other.user_pool().unwrap();
    let mechanisms = other
        .account_recovery_setting()
        .unwrap()
        .recovery_mechanisms();
    assert_eq!(
        mechanisms[0].name(),
        &RecoveryOptionNameType::VerifiedPhoneNumber
    );
    assert_eq!(mechanisms[0].priority(), 1);
    assert_eq!(mechanisms[1].name(), &RecoveryOptionNameType::VerifiedEmail);
    assert!(other.username_configuration().unwrap().case_sensitive());
}

#[tokio::test]
async fn admin_disable_user_disables_through_the_sdk() {
    let sim = simulator(|c| c.users = vec![seed("dora")]).await;
    let client = client(&sim).await;
    client
        .admin_disable_user()
        .user_pool_id(DEFAULT_POOL)
        .username("DORA")
        .send()
        .await
        .unwrap();
    let user = client
        .admin_get_user()
        .user_pool_id(DEFAULT_POOL)
        .username("dora")
        .send()
        .await
        .unwrap();
    assert!(!user.enabled());
    assert!(user.user_last_modified_date() > user.user_create_date());
    let err = client
        .admin_reset_user_password()
        .user_pool_id(DEFAULT_POOL)
        .username("dora")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NotAuthorizedException"));
    assert_eq!(err.message(), Some("User is disabled."));
    assert_eq!(sim.state().user(DEFAULT_POOL, "dora").unwrap().disables, 1);
}

#[tokio::test]
async fn list_users_pages_with_every_field_through_the_sdk() {
    let sim = simulator(|c| {
        c.generate = 130;
        c.users = vec![SeedUser {
            status: Some("FORCE_CHANGE_PASSWORD".into()),
            ..seed("zoe")
        }];
    })
    .await;
    let client = client(&sim).await;
    let pages: Vec<_> = client
        .list_users()
        .user_pool_id(DEFAULT_POOL)
        .limit(50)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    let users: Vec<_> = pages
        .iter()
        .flat_map(|p| p.users().iter().cloned())
        .collect();
    assert_eq!(users.len(), 131);
    let first = &users[0];
    assert_eq!(first.username(), Some("user000001"));
    assert_eq!(first.user_status(), Some(&UserStatusType::Confirmed));
    assert!(first.enabled());
    assert!(first.user_create_date().is_some() && first.user_last_modified_date().is_some());
    assert!(first.attributes().iter().any(|a| a.name() == "email"));
    let zoe = users.last().unwrap();
    assert_eq!(
        zoe.user_status(),
        Some(&UserStatusType::ForceChangePassword)
    );
    let filtered = client
        .list_users()
        .user_pool_id(DEFAULT_POOL)
        .filter("cognito:user_status = \"FORCE_CHANGE_PASSWORD\"")
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.users().len(), 1);
}

#[tokio::test]
async fn validation_errors_reach_the_sdk_as_invalid_parameter() {
    let sim = simulator(|c| c.pool_defaults.groups = vec!["empty".into()]).await;
    let client = client(&sim).await;
    let err = client
        .admin_get_user()
        .user_pool_id(DEFAULT_POOL)
        .username("has space")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    assert!(err.message().unwrap().contains("at 'username'"));
    let err = client
        .list_users()
        .user_pool_id("not-a-pool")
        .limit(61)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.message()
            .unwrap()
            .starts_with("2 validation errors detected")
    );
    let err = client
        .list_users()
        .user_pool_id(DEFAULT_POOL)
        .filter("custom:team = \"x\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    let err = client
        .list_users_in_group()
        .user_pool_id(DEFAULT_POOL)
        .group_name("nobody")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    let empty = client
        .list_users_in_group()
        .user_pool_id(DEFAULT_POOL)
        .group_name("empty")
        .send()
        .await
        .unwrap();
    assert!(empty.users().is_empty());
}

#[tokio::test]
async fn quotas_throttle_and_provisioned_limits_report_them() {
    let sim = simulator(|c| c.quotas.user_read = Some(2.0)).await;
    let client = client(&sim).await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let out = client
            .admin_get_user()
            .user_pool_id(DEFAULT_POOL)
            .username("alice")
            .send()
            .await;
        codes.push(out.err().and_then(|e| e.code().map(str::to_owned)));
    }
    assert_eq!(codes[..2], [None, None]);
    assert_eq!(codes[2].as_deref(), Some("TooManyRequestsException"));
    assert_eq!(sim.state().totals().throttled_by_category["UserRead"], 2);
    let definition = |category: &str| {
        LimitDefinitionType::builder()
            .limit_class(LimitClass::ApiCategory)
            .attributes("Category", category)
            .build()
            .unwrap()
    };
    let read = client
        .get_provisioned_limit()
        .limit_definition(definition("UserRead"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.limit().unwrap().provisioned_limit_value(), 2);
    let recovery = client
        .get_provisioned_limit()
        .limit_definition(definition("UserAccountRecovery"))
        .send()
        .await
        .unwrap();
    assert_eq!(recovery.limit().unwrap().provisioned_limit_value(), 30);
    let err = client
        .get_provisioned_limit()
        .limit_definition(definition("Nonsense"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
}

#[tokio::test]
async fn sts_get_caller_identity_through_the_sdk() {
    let sim = simulator(|_| {}).await;
    let sts = aws_sdk_sts::Client::new(&sdk_config(&sim).await);
    let me = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(me.arn(), Some("arn:aws:iam::000000000000:user/simulator"));
    assert_eq!(me.account(), Some("000000000000"));
    assert!(me.user_id().is_some_and(|id| !id.is_empty()));
    assert!(aws_sdk_sts::operation::RequestId::request_id(&me).is_some_and(|id| !id.is_empty()));
    let denied = simulator(|c| {
        c.deny.insert("GetCallerIdentity".into());
    })
    .await;
    let sts = aws_sdk_sts::Client::new(&sdk_config(&denied).await);
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err),
        Some("AccessDenied")
    );
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
}

/// One raw HTTP/1.1 exchange; the answer's status, headers and body.
fn raw(sim: &Simulator, request: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect(sim.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The server may answer (and close) before reading everything.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn post(target: &str, body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: AWSCognitoIdentityProviderService.{target}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_operation_and_bad_json_answer_protocol_errors() {
    let sim = simulator(|_| {}).await;
    let (status, head, body) = raw(&sim, &post("DeleteUserPool", "{}"));
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: unknownoperationexception"),
        "{head}"
    );
    assert!(head.contains("x-amzn-requestid: "), "{head}");
    assert!(
        body.contains("\"__type\":\"UnknownOperationException\""),
        "{body}"
    );
    let (status, head, body) = raw(&sim, &post("AdminGetUser", "{not json"));
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: serializationexception"),
        "{head}"
    );
    assert!(body.contains("\"message\""), "{body}");
    let (_, _, body) = raw(&sim, &post("AdminGetUser", "[]"));
    assert!(body.contains("SerializationException"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn too_large_bodies_are_refused_without_reading_them() {
    let sim = simulator(|_| {}).await;
    let declared = b"POST / HTTP/1.1\r\nHost: sim\r\n\
        X-Amz-Target: AWSCognitoIdentityProviderService.AdminGetUser\r\n\
        Content-Length: 8388608\r\n\r\n";
    let (status, head, body) = raw(&sim, declared);
    assert_eq!(status, 413);
    assert!(head.contains("connection: close"), "{head}");
    assert!(body.contains("RequestEntityTooLargeException"), "{body}");
    let padding = " ".repeat(2 * 1024 * 1024);
    let (status, _, _) = raw(&sim, &post("AdminGetUser", &format!("{{}}{padding}")));
    assert_eq!(status, 413);
    let (status, _, _) = raw(&sim, &post("AdminGetUser", "{}"));
    assert_eq!(status, 400, "still serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn default_config_speaks_for_an_untouched_account() {
    let sim = Simulator::start("127.0.0.1:0", Config::default())
        .await
        .unwrap();
    let client = client(&sim).await;
    let mut throttled = 0;
    for _ in 0..30 {
        let out = client
            .describe_user_pool()
            .user_pool_id(DEFAULT_POOL)
            .send()
            .await;
        throttled += usize::from(out.is_err());
    }
    assert!(
        throttled >= 5,
        "UserPoolRead is 15/s: {throttled} throttled"
    );
    assert_eq!(Quotas::aws_defaults().user_pool_read, Some(15.0));
}
