//! The server over real sockets: what a client can make it hold, and how
//! connections are cut off, answered or kept.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Simulator;
use super::config::Config;
use super::http::Limits;

const REQUEST: &[u8] = b"POST / HTTP/1.1\r\nHost: sim\r\nContent-Length: 2\r\n\
    X-Amz-Target: AWSCognitoIdentityProviderService.AdminGetUser\r\n\r\n{}";

async fn sim(limits: Limits) -> Simulator {
    Simulator::start_with("127.0.0.1:0", Config::default(), limits)
        .await
        .unwrap()
}

fn quick() -> Limits {
    Limits {
        header_timeout: Duration::from_millis(150),
        body_timeout: Duration::from_millis(150),
        ..Limits::default()
    }
}

/// Reads until the server closes; fails the test after two seconds.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .expect("the server closed the connection");
    seen
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let sim = sim(quick()).await;
    let mut stream = TcpStream::connect(sim.addr()).await.unwrap();
    stream.write_all(REQUEST).await.unwrap();
    let seen = until_closed(&mut stream).await;
    assert!(
        seen.starts_with(b"HTTP/1.1 400"),
        "answered, then closed when idle"
    );
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let sim = sim(quick()).await;
    let mut slow_head = TcpStream::connect(sim.addr()).await.unwrap();
    slow_head
        .write_all(b"POST / HTTP/1.1\r\nHost: s")
        .await
        .unwrap();
    until_closed(&mut slow_head).await;
    let mut slow_body = TcpStream::connect(sim.addr()).await.unwrap();
    slow_body
        .write_all(b"POST / HTTP/1.1\r\nHost: sim\r\nContent-Length: 10\r\n\r\n{}")
        .await
        .unwrap();
    let seen = until_closed(&mut slow_body).await;
    assert!(seen.is_empty(), "dropped without an answer");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let sim = sim(Limits {
        max_connections: 1,
        ..quick()
    })
    .await;
    let mut idle = TcpStream::connect(sim.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut waiting = TcpStream::connect(sim.addr()).await.unwrap();
    waiting.write_all(REQUEST).await.unwrap();
    until_closed(&mut idle).await;
    let seen = until_closed(&mut waiting).await;
    assert!(
        seen.starts_with(b"HTTP/1.1 400"),
        "served once the idle one went"
    );
}

/// A simulator with no quota and the given changes.
async fn started(change: impl FnOnce(&mut Config)) -> Simulator {
    let mut config = Config {
        quotas: super::config::Quotas::none(),
        ..Config::default()
    };
    change(&mut config);
    Simulator::start("127.0.0.1:0", config).await.unwrap()
}

/// A SigV4 `Authorization` header for `key` in `region` (the signature is
/// never checked).
fn signed(key: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={key}/20240101/{region}/cognito-idp/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00"
    )
}

/// One exchange on a fresh connection: status (0 when the connection was
/// closed without an answer), lower-cased head and body.
async fn exchange(sim: &Simulator, request: Vec<u8>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(sim.addr()).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let seen = until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// A Cognito request, signed by `auth` when given.
fn cognito(op: &str, body: &str, auth: Option<&str>) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST / HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n{auth}\
         Content-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: AWSCognitoIdentityProviderService.{op}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// STS GetCallerIdentity, signed by `auth` when given.
fn sts(auth: Option<&str>) -> Vec<u8> {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "POST / HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n{auth}\
         Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const RESET_ALICE: &str = r#"{"UserPoolId":"us-east-1_SimPool1","Username":"alice"}"#;

fn resets(sim: &Simulator, name: &str) -> u64 {
    sim.state()
        .user(super::config::DEFAULT_POOL, name)
        .map_or(0, |u| u.resets_succeeded)
}

/// A scratch path that does not exist yet.
fn scratch_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sim-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn each_access_key_expires_after_its_own_lifetime() {
    let sim = started(|c| c.token_lifetime = Some(Duration::from_millis(300))).await;
    let first = signed("AKIDFIRST", "us-east-1");
    let (status, _, _) = exchange(
        &sim,
        cognito("AdminResetUserPassword", RESET_ALICE, Some(&first)),
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, head, body) = exchange(
        &sim,
        cognito("AdminResetUserPassword", RESET_ALICE, Some(&first)),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: expiredtokenexception"),
        "{head}"
    );
    assert!(
        body.contains(r#""__type":"ExpiredTokenException""#)
            && body.contains("The security token included in the request is expired"),
        "{body}"
    );
    assert_eq!(
        resets(&sim, "alice"),
        1,
        "the expired request changed nothing"
    );
    let renewed = signed("AKIDRENEWED", "us-east-1");
    let (status, _, _) = exchange(
        &sim,
        cognito("AdminResetUserPassword", RESET_ALICE, Some(&renewed)),
    )
    .await;
    assert_eq!(status, 200, "a new key starts its own lifetime");
    let (status, _, _) = exchange(&sim, cognito("AdminResetUserPassword", RESET_ALICE, None)).await;
    assert_eq!(status, 200, "unsigned requests never expire");
    assert_eq!(resets(&sim, "alice"), 3);
    let totals = sim.state().totals();
    assert_eq!((totals.expired_token, totals.invalid_token), (1, 0));
    assert_eq!(totals.calls["AdminResetUserPassword"], 4);
    let stats = b"GET /_sim/stats HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n".to_vec();
    let (_, _, body) = exchange(&sim, stats).await;
    assert!(body.contains(r#""expired_token":1"#), "{body}");
}

#[tokio::test]
async fn token_files_refuse_every_request_while_they_exist() {
    let expired = scratch_path("expired");
    let invalid = scratch_path("invalid");
    let sim = started(|c| {
        c.expired_while = Some(expired.clone());
        c.invalid_token_while = Some(invalid.clone());
    })
    .await;
    let key = signed("AKIDANY", "eu-west-1");
    std::fs::write(&expired, "").unwrap();
    let (status, head, _) =
        exchange(&sim, cognito("AdminResetUserPassword", RESET_ALICE, None)).await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: expiredtokenexception"),
        "{head}"
    );
    let (status, _, xml) = exchange(&sim, sts(Some(&key))).await;
    assert_eq!(status, 400);
    assert!(xml.contains("<Code>ExpiredToken</Code>"), "{xml}");
    std::fs::write(&invalid, "").unwrap();
    let (status, head, body) =
        exchange(&sim, cognito("AdminGetUser", RESET_ALICE, Some(&key))).await;
    assert_eq!(status, 400);
    assert!(
        head.contains("x-amzn-errortype: unrecognizedclientexception"),
        "{head}"
    );
    assert!(
        body.contains("The security token included in the request is invalid."),
        "{body}"
    );
    let (status, _, xml) = exchange(&sim, sts(Some(&key))).await;
    assert_eq!(status, 403);
    assert!(xml.contains("<Code>InvalidClientTokenId</Code>"), "{xml}");
    std::fs::remove_file(&expired).unwrap();
    std::fs::remove_file(&invalid).unwrap();
    assert_eq!(resets(&sim, "alice"), 0, "nothing was applied");
    let (status, _, _) = exchange(
        &sim,
        cognito("AdminResetUserPassword", RESET_ALICE, Some(&key)),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = exchange(&sim, sts(Some(&key))).await;
    assert_eq!(status, 200);
    let totals = sim.state().totals();
    assert_eq!((totals.expired_token, totals.invalid_token), (2, 2));
    assert_eq!(totals.calls["GetCallerIdentity"], 3);
}

/// The real SDK's configuration against `sim`, signing with `key`.
async fn sdk_config(sim: &Simulator, key: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(sim.url())
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_cognitoidentityprovider::config::Credentials::new(
            key,
            "test-secret-not-real",
            None,
            None,
            "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

#[tokio::test]
async fn the_sdk_sees_expired_credentials_and_renews_them() {
    use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
    let sim = started(|c| c.token_lifetime = Some(Duration::from_millis(300))).await;
    let reset = |client: aws_sdk_cognitoidentityprovider::Client| async move {
        client
            .admin_reset_user_password()
            .user_pool_id(super::config::DEFAULT_POOL)
            .username("alice")
            .send()
            .await
    };
    let old = aws_sdk_cognitoidentityprovider::Client::new(&sdk_config(&sim, "AKIDOLD").await);
    reset(old.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let err = reset(old).await.unwrap_err();
    assert_eq!(err.code(), Some("ExpiredTokenException"));
    let sts = aws_sdk_sts::Client::new(&sdk_config(&sim, "AKIDOLD").await);
    let err = sts.get_caller_identity().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_sts::error::ProvideErrorMetadata::code(&err),
        Some("ExpiredToken")
    );
    let new = aws_sdk_cognitoidentityprovider::Client::new(&sdk_config(&sim, "AKIDNEW").await);
    reset(new).await.unwrap();
    assert_eq!(resets(&sim, "alice"), 2);
    assert_eq!(sim.state().totals().expired_token, 2);
}

#[tokio::test]
async fn an_outage_window_answers_500_then_the_service_resumes() {
    let sim = started(|c| {
        c.outages = vec![super::config::OutageWindow {
            after: Duration::from_millis(250),
            lasting: Duration::from_millis(250),
        }];
    })
    .await;
    let reset = || cognito("AdminResetUserPassword", RESET_ALICE, None);
    assert_eq!(exchange(&sim, reset()).await.0, 200, "before the outage");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, head, body) = exchange(&sim, reset()).await;
    assert_eq!(status, 500);
    assert!(
        head.contains("x-amzn-errortype: internalerrorexception"),
        "{head}"
    );
    assert!(
        body.contains(r#""__type":"InternalErrorException""#),
        "{body}"
    );
    let (status, _, xml) = exchange(&sim, sts(None)).await;
    assert_eq!(status, 500);
    assert!(xml.contains("<Code>InternalFailure</Code>"), "{xml}");
    assert_eq!(
        resets(&sim, "alice"),
        1,
        "nothing applied during the outage"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(exchange(&sim, reset()).await.0, 200, "after the outage");
    assert_eq!(resets(&sim, "alice"), 2);
    assert_eq!(sim.state().totals().refused_by_outage, 2);
}

#[tokio::test]
async fn close_mode_closes_the_connection_without_applying() {
    let down = scratch_path("down-close");
    let sim = started(|c| {
        c.outage_while = Some(down.clone());
        c.outage_mode = super::config::OutageMode::Close;
    })
    .await;
    std::fs::write(&down, "").unwrap();
    let (status, _, _) = exchange(&sim, cognito("AdminResetUserPassword", RESET_ALICE, None)).await;
    assert_eq!(status, 0, "closed without an answer");
    std::fs::remove_file(&down).unwrap();
    assert_eq!(resets(&sim, "alice"), 0);
    let (status, _, _) = exchange(&sim, cognito("AdminResetUserPassword", RESET_ALICE, None)).await;
    assert_eq!(status, 200);
    assert_eq!(resets(&sim, "alice"), 1);
    assert_eq!(sim.state().totals().refused_by_outage, 1);
}

#[tokio::test]
async fn hang_mode_holds_requests_until_the_outage_ends_and_never_applies_them() {
    let down = scratch_path("down-hang");
    std::fs::write(&down, "").unwrap();
    let sim = started(|c| {
        c.outage_while = Some(down.clone());
        c.outage_mode = super::config::OutageMode::Hang;
    })
    .await;
    let mut held = TcpStream::connect(sim.addr()).await.unwrap();
    held.write_all(&cognito("AdminResetUserPassword", RESET_ALICE, None))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_millis(300), held.read(&mut buf)).await;
    assert!(waited.is_err(), "no answer while the outage lasts");
    std::fs::remove_file(&down).unwrap();
    let seen = until_closed(&mut held).await;
    assert!(seen.is_empty(), "closed without an answer once it ended");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(resets(&sim, "alice"), 0, "a held request is never applied");
    let (status, _, _) = exchange(&sim, cognito("AdminResetUserPassword", RESET_ALICE, None)).await;
    assert_eq!(status, 200);
    assert_eq!(resets(&sim, "alice"), 1);
    assert_eq!(sim.state().totals().refused_by_outage, 1);
}

#[tokio::test]
async fn a_regional_outage_affects_only_requests_signed_for_its_region() {
    let down = scratch_path("down-region");
    std::fs::write(&down, "").unwrap();
    let sim = started(|c| {
        c.outage_while = Some(down.clone());
        c.outage_regions = vec!["eu-west-1".into()];
    })
    .await;
    let europe = signed("AKIDEU", "eu-west-1");
    let america = signed("AKIDUS", "us-east-1");
    let reset = |auth: Option<&str>| cognito("AdminResetUserPassword", RESET_ALICE, auth);
    assert_eq!(exchange(&sim, reset(Some(&europe))).await.0, 500);
    assert_eq!(exchange(&sim, sts(Some(&europe))).await.0, 500);
    assert_eq!(exchange(&sim, reset(Some(&america))).await.0, 200);
    assert_eq!(
        exchange(&sim, reset(None)).await.0,
        200,
        "unsigned: no region"
    );
    assert_eq!(exchange(&sim, sts(Some(&america))).await.0, 200);
    std::fs::remove_file(&down).unwrap();
    assert_eq!(exchange(&sim, reset(Some(&europe))).await.0, 200);
    assert_eq!(resets(&sim, "alice"), 3);
    assert_eq!(sim.state().totals().refused_by_outage, 2);
}

const APPS_POOL: &str = "eu-west-1_Apps";

/// A simulator whose pool APPS_POOL has the default client, one with
/// units of every kind and one answered without units.
async fn apps_simulator() -> Simulator {
    use super::config::{AppClient, TimeUnit, Validity};
    let pool = APPS_POOL;
    started(|c| {
        c.add_pool(pool);
        let admin = AppClient {
            name: "admin".into(),
            refresh: Validity {
                value: 10,
                unit: TimeUnit::Hours,
            },
            access: Validity {
                value: 5,
                unit: TimeUnit::Minutes,
            },
            id: Validity {
                value: 300,
                unit: TimeUnit::Seconds,
            },
            units: true,
        };
        let legacy = AppClient {
            name: "legacy".into(),
            units: false,
            ..AppClient::default()
        };
        c.clients
            .insert(pool.into(), vec![AppClient::default(), admin, legacy]);
    })
    .await
}

type CognitoClient = aws_sdk_cognitoidentityprovider::Client;

/// Every client of APPS_POOL as the SDK's paginator lists them, two a page.
async fn listed_clients(
    client: &CognitoClient,
) -> Vec<aws_sdk_cognitoidentityprovider::types::UserPoolClientDescription> {
    let pages: Vec<_> = client
        .list_user_pool_clients()
        .user_pool_id(APPS_POOL)
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 2);
    pages
        .iter()
        .flat_map(|p| p.user_pool_clients().iter().cloned())
        .collect()
}

async fn described(
    client: &CognitoClient,
    id: &str,
) -> aws_sdk_cognitoidentityprovider::types::UserPoolClientType {
    let out = client
        .describe_user_pool_client()
        .user_pool_id(APPS_POOL)
        .client_id(id)
        .send()
        .await
        .unwrap();
    out.user_pool_client().unwrap().clone()
}

#[tokio::test]
async fn the_sdk_lists_and_describes_app_clients_reading_every_field() {
    use aws_sdk_cognitoidentityprovider::types::TimeUnitsType;
    let sim = apps_simulator().await;
    let client = CognitoClient::new(&sdk_config(&sim, "AKIDAPPS").await);
    let listed = listed_clients(&client).await;
    let names: Vec<_> = listed.iter().map(|c| c.client_name().unwrap()).collect();
    assert_eq!(names, ["app", "admin", "legacy"]);
    assert!(listed.iter().all(|c| c.user_pool_id() == Some(APPS_POOL)));
    let admin = described(&client, listed[1].client_id().unwrap()).await;
    assert_eq!(admin.client_id(), listed[1].client_id());
    assert_eq!(admin.client_name(), Some("admin"));
    assert_eq!(admin.user_pool_id(), Some(APPS_POOL));
    let validity = (
        admin.refresh_token_validity(),
        admin.access_token_validity(),
        admin.id_token_validity(),
    );
    assert_eq!(validity, (10, Some(5), Some(300)));
    let units = admin.token_validity_units().unwrap();
    assert_eq!(units.refresh_token(), Some(&TimeUnitsType::Hours));
    assert_eq!(units.access_token(), Some(&TimeUnitsType::Minutes));
    assert_eq!(units.id_token(), Some(&TimeUnitsType::Seconds));
    assert!(admin.creation_date().is_some() && admin.last_modified_date().is_some());
}

#[tokio::test]
async fn the_sdk_reads_default_and_unitless_clients() {
    use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
    use aws_sdk_cognitoidentityprovider::types::TimeUnitsType;
    let sim = apps_simulator().await;
    let client = CognitoClient::new(&sdk_config(&sim, "AKIDAPPS").await);
    let listed = listed_clients(&client).await;
    let app = described(&client, listed[0].client_id().unwrap()).await;
    let validity = (
        app.refresh_token_validity(),
        app.access_token_validity(),
        app.id_token_validity(),
    );
    assert_eq!(validity, (30, Some(60), Some(60)));
    let units = app.token_validity_units().unwrap();
    assert_eq!(units.refresh_token(), Some(&TimeUnitsType::Days));
    assert_eq!(units.access_token(), Some(&TimeUnitsType::Minutes));
    let legacy = described(&client, listed[2].client_id().unwrap()).await;
    assert!(legacy.token_validity_units().is_none());
    let validity = (
        legacy.refresh_token_validity(),
        legacy.access_token_validity(),
        legacy.id_token_validity(),
    );
    assert_eq!(validity, (30, Some(1), Some(1)), "days, hours, hours");
    let err = client
        .describe_user_pool_client()
        .user_pool_id(APPS_POOL)
        .client_id("nosuchclient")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn denied_client_operations_answer_access_denied_through_the_sdk() {
    use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
    let denied = started(|c| {
        c.deny.insert("ListUserPoolClients".into());
    })
    .await;
    let client =
        aws_sdk_cognitoidentityprovider::Client::new(&sdk_config(&denied, "AKIDAPPS").await);
    let err = client
        .list_user_pool_clients()
        .user_pool_id(super::config::DEFAULT_POOL)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
}
