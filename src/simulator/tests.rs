//! Behaviour tests of the simulator as a whole, through its request path
//! (`State::call` and `dispatch::respond`), without sockets.

use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::answer::Answer;
use super::dispatch::{self, Reply, Request};
use super::ops::Op;
use super::*;

fn config(change: impl FnOnce(&mut Config)) -> State {
    let mut config = Config {
        quotas: Quotas::none(),
        ..Config::default()
    };
    change(&mut config);
    State::new(config)
}

fn seed(username: &str) -> SeedUser {
    SeedUser {
        username: username.into(),
        ..SeedUser::default()
    }
}

fn body(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

fn call(state: &State, op: Op, value: Value) -> Answer {
    state.call(op, &body(value))
}

fn ok(answer: Answer) -> Value {
    match answer {
        Answer::Ok(v) => v,
        other => panic!("expected success, got {other:?}"),
    }
}

fn on_user(state: &State, op: Op, username: &str) -> String {
    call(
        state,
        op,
        json!({"UserPoolId": DEFAULT_POOL, "Username": username}),
    )
    .code()
}

fn reset(state: &State, username: &str) -> String {
    on_user(state, Op::AdminResetUserPassword, username)
}

fn message(answer: Answer) -> String {
    match answer {
        Answer::Err(e) => e.message,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn reset_applies_cognito_state_rules() {
    let state = config(|c| {
        c.users = vec![
            SeedUser {
                email_verified: Some(false),
                phone_verified: Some(true),
                ..seed("phone-only")
            },
            SeedUser {
                status: Some("COMPROMISED".into()),
                ..seed("compromised")
            },
        ]
    });
    assert_eq!(reset(&state, "alice"), "ok");
    assert_eq!(reset(&state, "alice"), "ok", "RESET_REQUIRED resets again");
    let alice = state.user(DEFAULT_POOL, "alice").unwrap();
    assert_eq!(
        (alice.resets_succeeded, alice.status.as_str()),
        (2, "RESET_REQUIRED")
    );
    assert_eq!(reset(&state, "missing-bob"), "UserNotFoundException");
    assert_eq!(reset(&state, "disabled-carol"), "NotAuthorizedException");
    for name in [
        "unconfirmed-dan",
        "force-change-gil",
        "federated-hal",
        "compromised",
    ] {
        let answer = call(
            &state,
            Op::AdminResetUserPassword,
            json!({"UserPoolId": DEFAULT_POOL, "Username": name}),
        );
        assert_eq!(
            message(answer),
            "User password cannot be reset in the current state.",
            "{name}"
        );
    }
    assert_eq!(reset(&state, "unverified-eve"), "InvalidParameterException");
    assert_eq!(reset(&state, "phone-only"), "ok");
    let other = call(
        &state,
        Op::AdminResetUserPassword,
        json!({"UserPoolId": "eu-west-1_Nope", "Username": "x"}),
    );
    assert_eq!(message(other), "User pool eu-west-1_Nope does not exist.");
}

#[test]
fn disabled_user_is_refused_with_cognitos_message() {
    let state = config(|_| {});
    let answer = call(
        &state,
        Op::AdminResetUserPassword,
        json!({"UserPoolId": DEFAULT_POOL, "Username": "disabled-x"}),
    );
    assert_eq!(message(answer), "User is disabled.");
}

#[test]
fn scripted_failures_run_out() {
    let state = config(|c| {
        c.users = vec![SeedUser {
            fail: Some("InternalErrorException".into()),
            fail_times: Some(2),
            ..seed("flaky")
        }]
    });
    assert_eq!(reset(&state, "flaky"), "InternalErrorException");
    assert_eq!(reset(&state, "flaky"), "InternalErrorException");
    assert_eq!(reset(&state, "flaky"), "ok");
}

#[test]
fn scripted_failure_applies_to_its_operation_only() {
    let state = config(|c| {
        c.users = vec![SeedUser {
            fail: Some("InternalErrorException".into()),
            fail_operation: Some("AdminGetUser".into()),
            ..seed("flaky")
        }]
    });
    assert_eq!(
        on_user(&state, Op::AdminGetUser, "flaky"),
        "InternalErrorException"
    );
    assert_eq!(reset(&state, "flaky"), "ok");
}

#[test]
fn each_category_is_throttled_on_its_own_quota() {
    let state = config(|c| {
        c.quotas.user_account_recovery = Some(5.0);
        c.quotas.user_read = Some(2.0);
    });
    let resets: Vec<String> = (0..8).map(|i| reset(&state, &format!("u{i}"))).collect();
    assert_eq!(resets.iter().filter(|c| *c == "ok").count(), 5);
    let gets: Vec<String> = (0..4)
        .map(|i| on_user(&state, Op::AdminGetUser, &format!("u{i}")))
        .collect();
    assert_eq!(gets.iter().filter(|c| *c == "ok").count(), 2);
    assert!((0..50).all(|i| on_user(&state, Op::AdminDisableUser, &format!("v{i}")) == "ok"));
    let totals = state.totals();
    assert_eq!(totals.throttled, 5);
    assert_eq!(totals.throttled_by_category["UserAccountRecovery"], 3);
    assert_eq!(totals.throttled_by_category["UserRead"], 2);
    assert_eq!(totals.calls["AdminResetUserPassword"], 8);
}

#[test]
fn default_config_enforces_aws_default_quotas() {
    let state = State::new(Config::default());
    let codes: Vec<String> = (0..20)
        .map(|_| {
            call(
                &state,
                Op::DescribeUserPool,
                json!({"UserPoolId": DEFAULT_POOL}),
            )
            .code()
        })
        .collect();
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 15);
    assert_eq!(state.totals().throttled_by_category["UserPoolRead"], 5);
}

fn limit_of(state: &State, category: &str) -> Answer {
    call(
        state,
        Op::GetProvisionedLimit,
        json!({"LimitDefinition": {"LimitClass": "API_CATEGORY", "Attributes": {"Category": category}}}),
    )
}

#[test]
fn provisioned_limit_answers_each_categorys_quota() {
    let state = config(|c| {
        c.quotas.user_account_recovery = Some(40.0);
        c.quotas.user_list = Some(12.4);
    });
    let value =
        |category: &str| ok(limit_of(&state, category))["Limit"]["ProvisionedLimitValue"].clone();
    assert_eq!(value("UserAccountRecovery"), 40);
    assert_eq!(value("UserList"), 12);
    assert_eq!(value("UserRead"), 120, "not enforced: the AWS default");
    assert_eq!(value("UserPoolRead"), 15);
    assert_eq!(value("UserAuthentication"), 120);
    let free = ok(limit_of(&state, "UserAccountRecovery"))["Limit"]["FreeLimitValue"].clone();
    assert_eq!(free, 30);
    assert_eq!(limit_of(&state, "Nope").code(), "InvalidParameterException");
    let no_definition = call(&state, Op::GetProvisionedLimit, json!({}));
    assert!(message(no_definition).contains("'limitDefinition'"));
    let bad_class = call(
        &state,
        Op::GetProvisionedLimit,
        json!({"LimitDefinition": {"LimitClass": "OTHER", "Attributes": {"Category": "UserRead"}}}),
    );
    assert!(message(bad_class).contains("enum value set: [API_CATEGORY]"));
}

#[test]
fn daily_email_cap_counts_only_codes_sent_by_email() {
    let state = config(|c| c.email_cap = Some(1));
    assert_eq!(reset(&state, "a"), "ok");
    assert_eq!(reset(&state, "b"), "LimitExceededException");
    let sms_first = config(|c| {
        c.email_cap = Some(0);
        c.pool_defaults.recovery = vec!["verified_phone_number".into(), "verified_email".into()];
        c.users = vec![SeedUser {
            phone_verified: Some(true),
            ..seed("both")
        }];
    });
    assert_eq!(reset(&sms_first, "both"), "ok", "the code goes by SMS");
    let both = sms_first.user(DEFAULT_POOL, "both").unwrap();
    assert_eq!((both.sms_sent, both.emails_sent), (1, 0));
    assert_eq!(reset(&sms_first, "email-only"), "LimitExceededException");
}

#[test]
fn admin_only_recovery_refuses_resets() {
    let state = config(|c| c.pool_defaults.recovery = vec!["admin_only".into()]);
    let answer = call(
        &state,
        Op::AdminResetUserPassword,
        json!({"UserPoolId": DEFAULT_POOL, "Username": "alice"}),
    );
    assert_eq!(answer.code(), "NotAuthorizedException");
    assert!(message(answer).contains("admin only"));
}

#[test]
fn describe_user_pool_reports_the_pools_settings() {
    let state = config(|c| {
        c.pools.insert(
            "eu-west-1_Other".into(),
            PoolSettings {
                recovery: vec!["verified_phone_number".into()],
                case_sensitive: true,
                email_sender: None,
                groups: Vec::new(),
            },
        );
        c.generate = 3;
    });
    let pool = ok(call(
        &state,
        Op::DescribeUserPool,
        json!({"UserPoolId": DEFAULT_POOL}),
    ))["UserPool"]
        .clone();
    assert_eq!(pool["Id"], DEFAULT_POOL);
    assert_eq!(
        pool["EmailConfiguration"]["EmailSendingAccount"],
        "COGNITO_DEFAULT"
    );
    assert_eq!(pool["UsernameConfiguration"]["CaseSensitive"], false);
    assert_eq!(
        pool["AccountRecoverySetting"]["RecoveryMechanisms"],
        json!([{"Name": "verified_email", "Priority": 1}, {"Name": "verified_phone_number", "Priority": 2}])
    );
    assert_eq!(pool["EstimatedNumberOfUsers"], 3);
    assert!(pool["CreationDate"].as_f64().unwrap() > 1.6e9);
    assert!(pool["LastModifiedDate"].is_number());
    let other = ok(call(
        &state,
        Op::DescribeUserPool,
        json!({"UserPoolId": "eu-west-1_Other"}),
    ))["UserPool"]
        .clone();
    assert!(
        other["EmailConfiguration"]
            .get("EmailSendingAccount")
            .is_none()
    );
    assert_eq!(other["UsernameConfiguration"]["CaseSensitive"], true);
}

#[test]
#[allow(non_snake_case)]
fn case_insensitive_pool_finds_alice_as_Alice_everywhere() {
    let state = config(|c| c.users = vec![seed("Alice")]);
    assert_eq!(reset(&state, "alice"), "ok");
    assert_eq!(on_user(&state, Op::AdminUserGlobalSignOut, "ALICE"), "ok");
    assert_eq!(on_user(&state, Op::AdminDisableUser, "aLiCe"), "ok");
    let user = state.user(DEFAULT_POOL, "alice").unwrap();
    assert_eq!(
        (user.resets_succeeded, user.sign_outs, user.disables),
        (1, 1, 1)
    );
    let got = ok(call(
        &state,
        Op::AdminGetUser,
        json!({"UserPoolId": DEFAULT_POOL, "Username": "alice"}),
    ));
    assert_eq!(got["Username"], "Alice");
    let listed = ok(call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL}),
    ));
    assert_eq!(listed["Users"][0]["Username"], "Alice");
    assert_eq!(state.users(DEFAULT_POOL).len(), 1);
}

#[test]
#[allow(non_snake_case)]
fn case_sensitive_pool_tells_alice_from_Alice() {
    let state = config(|c| {
        c.pool_defaults.case_sensitive = true;
        c.users = vec![SeedUser {
            enabled: Some(false),
            ..seed("Alice")
        }];
    });
    assert_eq!(reset(&state, "Alice"), "NotAuthorizedException");
    assert_eq!(reset(&state, "alice"), "ok", "another (implicit) user");
    assert_eq!(state.users(DEFAULT_POOL).len(), 2);
}

#[test]
fn disable_user_is_idempotent_and_moves_the_modified_date() {
    let state = config(|_| {});
    let get = || {
        ok(call(
            &state,
            Op::AdminGetUser,
            json!({"UserPoolId": DEFAULT_POOL, "Username": "dora"}),
        ))
    };
    let before = get();
    assert_eq!(before["Enabled"], true);
    assert_eq!(on_user(&state, Op::AdminDisableUser, "dora"), "ok");
    assert_eq!(on_user(&state, Op::AdminDisableUser, "dora"), "ok");
    let after = get();
    assert_eq!(after["Enabled"], false);
    assert_eq!(after["UserCreateDate"], before["UserCreateDate"]);
    assert!(after["UserLastModifiedDate"].as_f64() > before["UserLastModifiedDate"].as_f64());
    assert_eq!(state.user(DEFAULT_POOL, "dora").unwrap().disables, 2);
    assert_eq!(reset(&state, "dora"), "NotAuthorizedException");
    assert_eq!(state.totals().users_disabled, 1);
    assert_eq!(
        on_user(&state, Op::AdminDisableUser, "missing-x"),
        "UserNotFoundException"
    );
}

#[test]
fn global_sign_out_works_on_disabled_users_and_any_status() {
    let state = config(|_| {});
    for name in [
        "disabled-a",
        "unconfirmed-b",
        "federated-c",
        "force-change-d",
        "e",
    ] {
        assert_eq!(
            on_user(&state, Op::AdminUserGlobalSignOut, name),
            "ok",
            "{name}"
        );
    }
    assert_eq!(state.totals().users_signed_out, 5);
    assert_eq!(
        on_user(&state, Op::AdminUserGlobalSignOut, "missing-f"),
        "UserNotFoundException"
    );
}

#[test]
fn listing_pages_filters_and_reports_every_field() {
    let state = config(|c| {
        c.generate = 130;
        c.users = vec![SeedUser {
            enabled: Some(false),
            groups: vec!["staff".into()],
            ..seed("zed")
        }];
    });
    let list = |extra: Value| {
        let mut b = json!({"UserPoolId": DEFAULT_POOL});
        b.as_object_mut().unwrap().extend(body(extra));
        call(&state, Op::ListUsers, b)
    };
    let page = ok(list(json!({})));
    assert_eq!(page["Users"].as_array().unwrap().len(), 60);
    let first = &page["Users"][0];
    assert_eq!(first["Username"], "user000001");
    assert_eq!(first["UserStatus"], "CONFIRMED");
    assert_eq!(first["Enabled"], true);
    assert!(first["UserCreateDate"].is_number() && first["UserLastModifiedDate"].is_number());
    assert!(
        first["Attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["Name"] == "email")
    );
    let token = page["PaginationToken"].as_str().unwrap().to_owned();
    let next = ok(list(json!({"PaginationToken": token, "Limit": 10})));
    assert_eq!(next["Users"][0]["Username"], "user000061");
    assert_eq!(next["Users"].as_array().unwrap().len(), 10);
    let disabled = ok(list(json!({"Filter": "status = \"Disabled\""})));
    assert_eq!(disabled["Users"], json!([disabled["Users"][0]]));
    assert_eq!(disabled["Users"][0]["Username"], "zed");
    let prefix = ok(list(json!({"Filter": "username^=\"user00012\""})));
    assert_eq!(prefix["Users"].as_array().unwrap().len(), 10);
    assert!(prefix.get("PaginationToken").is_none());
    let by_status = ok(list(
        json!({"Filter": "cognito:user_status = \"confirmed\""}),
    ));
    assert_eq!(by_status["Users"].as_array().unwrap().len(), 60);
    let only_email = ok(list(json!({"AttributesToGet": ["email"], "Limit": 1})));
    assert_eq!(
        only_email["Users"][0]["Attributes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let everyone = ok(list(json!({"Filter": ""})));
    assert_eq!(everyone["Users"].as_array().unwrap().len(), 60);
}

#[test]
fn pagination_token_not_issued_by_the_simulator_is_refused() {
    let state = config(|c| c.generate = 70);
    let page = ok(call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL}),
    ));
    let token = page["PaginationToken"].as_str().unwrap();
    for forged in ["user000060", "abc.def", &format!("{token}x")] {
        let answer = call(
            &state,
            Op::ListUsers,
            json!({"UserPoolId": DEFAULT_POOL, "PaginationToken": forged}),
        );
        assert_eq!(answer.code(), "InvalidParameterException", "{forged}");
    }
    let other_filter = call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL, "PaginationToken": token, "Filter": "username ^= \"u\""}),
    );
    assert_eq!(other_filter.code(), "InvalidParameterException");
}

#[test]
fn groups_exist_as_pool_objects() {
    let state = config(|c| {
        c.pool_defaults.groups = vec!["empty".into()];
        c.users = (0..30)
            .map(|i| SeedUser {
                groups: vec!["staff".into()],
                ..seed(&format!("s{i:02}"))
            })
            .collect();
    });
    let group = |name: &str, token: Option<&str>| {
        let mut b = json!({"UserPoolId": DEFAULT_POOL, "GroupName": name});
        if let Some(t) = token {
            b["NextToken"] = json!(t);
        }
        call(&state, Op::ListUsersInGroup, b)
    };
    let missing = group("nobody", None);
    assert_eq!(missing.code(), "ResourceNotFoundException");
    assert_eq!(message(missing), "Group not found.");
    assert_eq!(ok(group("empty", None))["Users"], json!([]));
    let page = ok(group("staff", None));
    assert_eq!(page["Users"].as_array().unwrap().len(), 25);
    let next = ok(group("staff", page["NextToken"].as_str()));
    assert_eq!(next["Users"].as_array().unwrap().len(), 5);
    assert!(next.get("NextToken").is_none());
}

#[test]
fn missing_members_answer_one_validation_error_listing_all() {
    let state = config(|_| {});
    let missing = message(call(&state, Op::AdminResetUserPassword, json!({})));
    assert_eq!(
        missing,
        "2 validation errors detected: Value null at 'username' failed to satisfy constraint: \
         Member must not be null; Value null at 'userPoolId' failed to satisfy constraint: \
         Member must not be null"
    );
}

#[test]
fn malformed_members_answer_validation_errors_before_any_lookup() {
    let state = config(|_| {});
    let bad_name = message(call(
        &state,
        Op::AdminGetUser,
        json!({"UserPoolId": DEFAULT_POOL, "Username": "has space"}),
    ));
    assert!(
        bad_name.starts_with("1 validation error detected: Value at 'username'"),
        "{bad_name}"
    );
    let long = "x".repeat(129);
    let too_long = call(
        &state,
        Op::AdminGetUser,
        json!({"UserPoolId": DEFAULT_POOL, "Username": long}),
    );
    assert!(message(too_long).contains("length less than or equal to 128"));
    let bad_pool = call(
        &state,
        Op::AdminGetUser,
        json!({"UserPoolId": "nounderscore", "Username": "a"}),
    );
    assert_eq!(
        bad_pool.code(),
        "InvalidParameterException",
        "checked before existence"
    );
    let bad_limit = call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL, "Limit": 61}),
    );
    assert!(message(bad_limit).contains("Value '61' at 'limit'"));
    let negative = call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL, "Limit": -1}),
    );
    assert_eq!(negative.code(), "InvalidParameterException");
    let bad_filter = call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL, "Filter": "custom:x = \"1\""}),
    );
    assert_eq!(message(bad_filter), "Error while parsing filter.");
    let wrong_type = call(
        &state,
        Op::AdminGetUser,
        json!({"UserPoolId": DEFAULT_POOL, "Username": 5}),
    );
    assert_eq!(wrong_type.code(), "SerializationException");
    let empty_token = call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL, "PaginationToken": ""}),
    );
    assert_eq!(empty_token.code(), "InvalidParameterException");
}

#[test]
fn denied_operations_answer_access_denied() {
    let state = config(|c| {
        c.deny.insert("AdminDisableUser".into());
    });
    let answer = call(
        &state,
        Op::AdminDisableUser,
        json!({"UserPoolId": DEFAULT_POOL, "Username": "a"}),
    );
    assert_eq!(answer.code(), "AccessDeniedException");
    assert!(message(answer).contains("cognito-idp:AdminDisableUser"));
    assert_eq!(reset(&state, "a"), "ok");
}

#[test]
fn injected_faults_either_fail_or_drop_after_applying() {
    let state = config(|c| c.fault_rate = 1.0);
    let codes: Vec<String> = (0..40).map(|i| reset(&state, &format!("f{i}"))).collect();
    let dropped = codes.iter().filter(|c| *c == "drop").count();
    let failed = codes
        .iter()
        .filter(|c| *c == "InternalErrorException")
        .count();
    assert_eq!(dropped + failed, 40);
    assert!(dropped > 0 && failed > 0);
    assert_eq!(
        state.totals().users_reset as usize,
        dropped,
        "dropped calls were applied"
    );
    assert_eq!(state.totals().faults, 40);
}

fn send(state: &State, target: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Reply {
    let target = target.map(|t| format!("AWSCognitoIdentityProviderService.{t}"));
    dispatch::respond(
        state,
        &Request {
            method: &Method::POST,
            path: "/",
            target: target.as_deref(),
            content_type,
            authorization: None,
            body,
        },
    )
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

#[test]
fn unknown_target_and_bad_bodies_answer_protocol_errors() {
    let state = config(|_| {});
    let unknown = send(&state, Some("CreateUserPool"), None, b"{}");
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.error_type.as_deref(),
        Some("UnknownOperationException")
    );
    assert_eq!(json_of(&unknown)["__type"], "UnknownOperationException");
    for bad in [&b"not json"[..], b"[1,2]", b"\"x\"", b"{\"a\":}"] {
        let reply = send(&state, Some("AdminGetUser"), None, bad);
        assert_eq!(reply.error_type.as_deref(), Some("SerializationException"));
        assert!(json_of(&reply)["message"].is_string());
    }
    let empty = send(&state, Some("AdminGetUser"), None, b"");
    assert_eq!(
        empty.error_type.as_deref(),
        Some("InvalidParameterException")
    );
    let a = send(&state, Some("AdminGetUser"), None, b"");
    assert_ne!(a.request_id, empty.request_id);
}

#[test]
fn stats_page_answers_totals() {
    let state = config(|_| {});
    assert!(state.totals().first_reset_unix_ms.is_none());
    assert_eq!(reset(&state, "a"), "ok");
    let first = state
        .totals()
        .first_reset_unix_ms
        .expect("first reset time");
    assert_eq!(reset(&state, "b"), "ok");
    assert_eq!(state.totals().first_reset_unix_ms, Some(first));
    let reply = dispatch::respond(
        &state,
        &Request {
            method: &Method::GET,
            path: "/_sim/stats",
            target: None,
            content_type: None,
            authorization: None,
            body: b"",
        },
    );
    let totals = json_of(&reply);
    assert_eq!(totals["users_reset"], 2);
    assert_eq!(totals["calls"]["AdminResetUserPassword"], 2);
    assert_eq!(totals["first_reset_unix_ms"], first);
    assert!(totals["throttled_by_category"].is_object());
}

/// The time to a resume's first call was unmeasurable while only resets
/// were timed: a resume starts with the preflight and checks.
#[test]
fn stats_page_times_the_first_call_of_any_kind_not_only_resets() {
    for static_answers in [false, true] {
        let state = config(|c| c.static_answers = static_answers);
        let stats = Request {
            method: &Method::GET,
            path: "/_sim/stats",
            target: None,
            content_type: None,
            authorization: None,
            body: b"",
        };
        let _ = dispatch::respond(&state, &stats);
        assert!(
            state.totals().first_call_unix_ms.is_none(),
            "the stats page is no call"
        );
        let sts = send(&state, None, FORM, STS_BODY);
        assert_eq!(sts.status, StatusCode::OK);
        let first = state.totals().first_call_unix_ms.expect("first call time");
        assert!(state.totals().first_reset_unix_ms.is_none());
        assert_eq!(reset_via_http(&state, "a"), "ok");
        let totals = state.totals();
        assert_eq!(totals.first_call_unix_ms, Some(first));
        assert!(totals.first_reset_unix_ms.expect("first reset time") >= first);
        assert_eq!(
            json_of(&dispatch::respond(&state, &stats))["first_call_unix_ms"],
            first
        );
    }
}

const STS_BODY: &[u8] = b"Action=GetCallerIdentity&Version=2011-06-15";
const FORM: Option<&str> = Some("application/x-www-form-urlencoded; charset=utf-8");

#[test]
fn sts_get_caller_identity_answers_query_xml() {
    let state = config(|_| {});
    let reply = send(&state, None, FORM, STS_BODY);
    assert_eq!(reply.status, StatusCode::OK);
    let xml = String::from_utf8(reply.body.to_vec()).unwrap();
    assert!(xml.starts_with("<GetCallerIdentityResponse"));
    assert!(xml.contains("<Arn>arn:aws:iam::000000000000:user/simulator</Arn>"));
    assert!(xml.contains("<Account>000000000000</Account>"));
    assert!(xml.contains(&format!("<RequestId>{}</RequestId>", reply.request_id)));
    assert_eq!(state.totals().calls["GetCallerIdentity"], 1);
    let other = send(&state, None, FORM, b"Action=AssumeRole&Version=2011-06-15");
    assert_eq!(other.error_type.as_deref(), Some("InvalidAction"));
}

#[test]
fn denied_sts_answers_a_query_error() {
    let state = config(|c| {
        c.deny.insert("GetCallerIdentity".into());
    });
    let reply = send(&state, None, FORM, STS_BODY);
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let xml = String::from_utf8(reply.body.to_vec()).unwrap();
    assert!(xml.contains("<ErrorResponse"), "{xml}");
    assert!(xml.contains("<Type>Sender</Type>") && xml.contains("<Code>AccessDenied</Code>"));
}

#[test]
fn static_mode_answers_success_without_state() {
    let state = config(|c| {
        c.static_answers = true;
        c.quotas = Quotas::aws_defaults();
        c.deny.insert("AdminResetUserPassword".into());
    });
    for _ in 0..100 {
        assert_eq!(reset_via_http(&state, "missing-x"), "ok");
    }
    assert!(state.users(DEFAULT_POOL).is_empty());
    assert_eq!(state.totals().calls["AdminResetUserPassword"], 100);
    let got = send(
        &state,
        Some("AdminGetUser"),
        None,
        br#"{"UserPoolId":"us-east-1_X","Username":"u"}"#,
    );
    assert_eq!(json_of(&got)["Username"], "u");
    assert_eq!(json_of(&got)["UserAttributes"][1]["Value"], "true");
    let listed = send(
        &state,
        Some("ListUsers"),
        None,
        br#"{"UserPoolId":"us-east-1_X"}"#,
    );
    assert_eq!(json_of(&listed)["Users"], json!([]));
    let invalid = send(&state, Some("AdminGetUser"), None, b"{}");
    assert_eq!(
        invalid.error_type.as_deref(),
        Some("InvalidParameterException")
    );
    let sts = send(&state, None, FORM, STS_BODY);
    assert_eq!(sts.status, StatusCode::OK);
    let clients = send(
        &state,
        Some("ListUserPoolClients"),
        None,
        br#"{"UserPoolId":"us-east-1_X"}"#,
    );
    let app = &json_of(&clients)["UserPoolClients"][0];
    assert_eq!(app["ClientName"], "app");
    let body = json!({"UserPoolId": "us-east-1_X", "ClientId": app["ClientId"]}).to_string();
    let described = send(
        &state,
        Some("DescribeUserPoolClient"),
        None,
        body.as_bytes(),
    );
    assert_eq!(
        json_of(&described)["UserPoolClient"]["RefreshTokenValidity"],
        30
    );
}

fn reset_via_http(state: &State, username: &str) -> String {
    let body = json!({"UserPoolId": DEFAULT_POOL, "Username": username}).to_string();
    let reply = send(state, Some("AdminResetUserPassword"), None, body.as_bytes());
    reply.error_type.unwrap_or_else(|| "ok".into())
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn target() -> impl Strategy<Value = Option<String>> {
        let known: Vec<Option<String>> = Op::ALL
            .iter()
            .map(|op| Some(op.name().to_owned()))
            .collect();
        prop_oneof![
            proptest::sample::select(known),
            Just(None),
            ".{0,40}".prop_map(Some),
        ]
    }

    fn member() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            ".{0,70}".prop_map(Value::String),
            Just(json!(DEFAULT_POOL)),
            Just(json!("status ^= \"E\"")),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(".{0,12}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_body() -> impl Strategy<Value = Vec<u8>> {
        let keys = proptest::sample::select(vec![
            "UserPoolId",
            "Username",
            "GroupName",
            "Filter",
            "Limit",
            "PaginationToken",
            "NextToken",
            "AttributesToGet",
            "ClientMetadata",
            "LimitDefinition",
            "MaxResults",
            "ClientId",
            "Other",
        ]);
        proptest::collection::btree_map(keys, member(), 0..6)
            .prop_map(|m| serde_json::to_vec(&m).unwrap_or_default())
    }

    fn raw_body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![json_body(), proptest::collection::vec(any::<u8>(), 0..200)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn any_request_gets_a_well_formed_answer(
            target in target(),
            form in any::<bool>(),
            body in raw_body(),
            static_answers in any::<bool>(),
        ) {
            let state = config(|c| {
                c.static_answers = static_answers;
                c.generate = 3;
                c.quotas = Quotas::aws_defaults();
            });
            let content_type = form.then_some("application/x-www-form-urlencoded");
            let reply = send(&state, target.as_deref(), content_type, &body);
            prop_assert!(!reply.request_id.is_empty());
            if reply.content_type == "text/xml" {
                prop_assert!(std::str::from_utf8(&reply.body).is_ok());
            } else if !reply.drop {
                let value: Value = serde_json::from_slice(&reply.body).unwrap();
                if reply.status != StatusCode::OK {
                    prop_assert!(value["__type"].is_string() && value["message"].is_string());
                    prop_assert_eq!(reply.error_type.as_deref(), value["__type"].as_str());
                }
            }
        }
    }
}

/// The first segment of every path starting with `prefix` in `text`.
fn path_heads(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '*')
                .collect()
        })
        .collect()
}

/// Where a file's inline `#[cfg(test)] mod … {` starts, if it has one.
fn inline_test_module(code: &str) -> Option<usize> {
    code.match_indices("#[cfg(test)]")
        .map(|(at, _)| at)
        .find(|at| {
            code[*at..]
                .lines()
                .skip(1)
                .find(|l| !l.starts_with("#["))
                .is_some_and(|l| l.starts_with("mod ") && l.ends_with('\u{7b}'))
        })
}

/// Which files of this directory each file imports, judged from its
/// `super::…` and `crate::simulator::…` paths (a file's own inline test
/// module may only add `crate::simulator::…` ones, its `super` being the
/// file itself).
fn file_imports() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/simulator");
    let mut sources = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            sources.insert(stem, std::fs::read_to_string(&path).unwrap());
        }
    }
    let is_file = |name: &str| name != "mod" && sources.contains_key(name);
    let target = |name: &str| {
        if is_file(name) {
            name.to_owned()
        } else {
            "mod".to_owned()
        }
    };
    let mut graph = std::collections::BTreeMap::new();
    for (file, text) in &sources {
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let own = &code[..inline_test_module(&code).unwrap_or(code.len())];
        let mut edges = std::collections::BTreeSet::new();
        for name in path_heads(&code, "crate::simulator::") {
            edges.insert(target(&name));
        }
        if file == "mod" {
            for name in sources.keys().filter(|n| is_file(n)) {
                let used = own
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("mod "))
                    .any(|l| l.contains(&format!("{name}::")));
                if used {
                    edges.insert(name.clone());
                }
            }
        } else {
            for name in path_heads(own, "super::") {
                edges.insert(target(&name));
            }
        }
        edges.remove(file);
        graph.insert(file.clone(), edges);
    }
    graph
}

#[test]
fn files_import_each_other_in_one_direction_only() {
    let graph = file_imports();
    assert!(graph["state"].contains("actions"), "{graph:?}");
    assert!(graph["mod"].contains("http"), "{graph:?}");
    // Depth-first search for a path back to where it started.
    fn reaches(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        from: &str,
        to: &str,
        seen: &mut std::collections::BTreeSet<String>,
    ) -> bool {
        graph
            .get(from)
            .into_iter()
            .flatten()
            .any(|next| next == to || (seen.insert(next.clone()) && reaches(graph, next, to, seen)))
    }
    for file in graph.keys() {
        let mut seen = std::collections::BTreeSet::new();
        assert!(
            !reaches(&graph, file, file, &mut seen),
            "{file} imports itself through {seen:?}: {graph:#?}"
        );
    }
}

fn apps() -> Vec<AppClient> {
    let validity = |value, unit| Validity { value, unit };
    vec![
        AppClient {
            name: "web".into(),
            refresh: validity(30, TimeUnit::Days),
            access: validity(1, TimeUnit::Hours),
            id: validity(1, TimeUnit::Hours),
            units: true,
        },
        AppClient {
            name: "admin".into(),
            refresh: validity(10, TimeUnit::Hours),
            access: validity(5, TimeUnit::Minutes),
            id: validity(5, TimeUnit::Minutes),
            units: true,
        },
        AppClient {
            name: "legacy".into(),
            refresh: validity(7, TimeUnit::Days),
            access: validity(120, TimeUnit::Minutes),
            id: validity(1, TimeUnit::Hours),
            units: false,
        },
    ]
}

const APPS_POOL: &str = "eu-west-1_Apps";

fn with_apps(change: impl FnOnce(&mut Config)) -> State {
    config(|c| {
        c.add_pool(APPS_POOL);
        c.clients.insert(APPS_POOL.into(), apps());
        change(c);
    })
}

#[test]
fn list_user_pool_clients_pages_with_its_own_tokens() {
    let state = with_apps(|_| {});
    let list = |extra: Value| {
        let mut b = json!({"UserPoolId": APPS_POOL});
        b.as_object_mut().unwrap().extend(body(extra));
        call(&state, Op::ListUserPoolClients, b)
    };
    let all = ok(list(json!({})));
    let names: Vec<&str> = all["UserPoolClients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ClientName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "admin", "legacy"]);
    assert_eq!(all["UserPoolClients"][0]["UserPoolId"], APPS_POOL);
    assert!(all.get("NextToken").is_none());
    let first = ok(list(json!({"MaxResults": 2})));
    assert_eq!(first["UserPoolClients"].as_array().unwrap().len(), 2);
    let token = first["NextToken"].as_str().unwrap().to_owned();
    let rest = ok(list(json!({"MaxResults": 2, "NextToken": token})));
    assert_eq!(rest["UserPoolClients"][0]["ClientName"], "legacy");
    assert!(rest.get("NextToken").is_none());
    for bad in [json!({"MaxResults": 0}), json!({"MaxResults": 61})] {
        let answer = list(bad);
        assert!(message(answer).contains("at 'maxResults'"));
    }
    assert_eq!(
        list(json!({"NextToken": "forged.00"})).code(),
        "InvalidParameterException"
    );
    let elsewhere = call(
        &state,
        Op::ListUserPoolClients,
        json!({"UserPoolId": DEFAULT_POOL, "NextToken": token}),
    );
    assert_eq!(
        elsewhere.code(),
        "InvalidParameterException",
        "another pool's token"
    );
    let missing = call(
        &state,
        Op::ListUserPoolClients,
        json!({"UserPoolId": "eu-west-1_Nope"}),
    );
    assert_eq!(message(missing), "User pool eu-west-1_Nope does not exist.");
}

fn client_of(state: &State, pool: &str, name: &str) -> Answer {
    let listed = ok(call(
        state,
        Op::ListUserPoolClients,
        json!({"UserPoolId": pool}),
    ));
    let id = listed["UserPoolClients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ClientName"] == name)
        .map(|c| c["ClientId"].clone())
        .unwrap();
    call(
        state,
        Op::DescribeUserPoolClient,
        json!({"UserPoolId": pool, "ClientId": id}),
    )
}

#[test]
fn describe_user_pool_client_reports_token_validity() {
    let state = with_apps(|_| {});
    let app = ok(client_of(&state, DEFAULT_POOL, "app"))["UserPoolClient"].clone();
    assert_eq!(
        (
            &app["RefreshTokenValidity"],
            &app["AccessTokenValidity"],
            &app["IdTokenValidity"]
        ),
        (&json!(30), &json!(60), &json!(60))
    );
    assert_eq!(
        app["TokenValidityUnits"],
        json!({"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"})
    );
    let admin = ok(client_of(&state, APPS_POOL, "admin"))["UserPoolClient"].clone();
    assert_eq!(admin["ClientName"], "admin");
    assert_eq!(admin["UserPoolId"], APPS_POOL);
    assert_eq!(admin["RefreshTokenValidity"], 10);
    assert_eq!(admin["TokenValidityUnits"]["RefreshToken"], "hours");
    assert_eq!(admin["TokenValidityUnits"]["AccessToken"], "minutes");
    let legacy = ok(client_of(&state, APPS_POOL, "legacy"))["UserPoolClient"].clone();
    assert!(legacy.get("TokenValidityUnits").is_none());
    assert_eq!(
        (
            &legacy["RefreshTokenValidity"],
            &legacy["AccessTokenValidity"],
            &legacy["IdTokenValidity"]
        ),
        (&json!(7), &json!(2), &json!(1)),
        "in the default units: days, hours, hours"
    );
}

#[test]
fn describe_user_pool_client_refuses_unknown_and_malformed_ids() {
    let state = with_apps(|_| {});
    let describe = |pool: &str, id: &str| {
        call(
            &state,
            Op::DescribeUserPoolClient,
            json!({"UserPoolId": pool, "ClientId": id}),
        )
    };
    let unknown = describe(APPS_POOL, "nosuchclient");
    assert_eq!(
        message(unknown),
        "User pool client nosuchclient does not exist."
    );
    let web_id = ok(client_of(&state, APPS_POOL, "web"))["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        describe(DEFAULT_POOL, &web_id).code(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        describe("eu-west-1_Nope", &web_id).code(),
        "ResourceNotFoundException"
    );
    let bad = message(describe(APPS_POOL, "has space"));
    assert!(
        bad.starts_with("1 validation error detected: Value at 'clientId'"),
        "{bad}"
    );
    let missing = message(call(&state, Op::DescribeUserPoolClient, json!({})));
    assert!(missing.starts_with("2 validation errors"), "{missing}");
}

#[test]
fn client_reads_have_their_own_quota_category() {
    let state = with_apps(|c| c.quotas.user_pool_client_read = Some(2.0));
    let codes: Vec<String> = (0..3)
        .map(|_| {
            call(
                &state,
                Op::ListUserPoolClients,
                json!({"UserPoolId": APPS_POOL}),
            )
            .code()
        })
        .collect();
    assert_eq!(codes, ["ok", "ok", "TooManyRequestsException"]);
    let totals = state.totals();
    assert_eq!(totals.throttled_by_category["UserPoolClientRead"], 1);
    assert_eq!(
        ok(limit_of(&state, "UserPoolClientRead"))["Limit"]["ProvisionedLimitValue"],
        2
    );
    let untouched = config(|c| c.quotas = Quotas::aws_defaults());
    assert_eq!(
        ok(limit_of(&untouched, "UserPoolClientRead"))["Limit"]["ProvisionedLimitValue"],
        15
    );
    let denied = with_apps(|c| {
        c.deny.insert("DescribeUserPoolClient".into());
    });
    let answer = client_of(&denied, APPS_POOL, "web");
    assert_eq!(answer.code(), "AccessDeniedException");
    assert!(message(answer).contains("cognito-idp:DescribeUserPoolClient"));
}

/// Users covering every combination of contacts a reset can meet.
fn contact_seeds() -> Vec<SeedUser> {
    vec![
        seed("email-only"),
        SeedUser {
            email: Some(None),
            phone_verified: Some(true),
            ..seed("phone-only")
        },
        SeedUser {
            phone_verified: Some(true),
            ..seed("both")
        },
        SeedUser {
            email_verified: Some(false),
            ..seed("neither")
        },
        SeedUser {
            email: Some(None),
            phone_number: Some(Some("+15550001111".into())),
            ..seed("unverified-phone-only")
        },
        SeedUser {
            email: Some(Some("e@example.org".into())),
            phone_number: Some(Some("+15550002222".into())),
            ..seed("email-and-unverified-phone")
        },
    ]
}

/// An attribute of an AdminGetUser or ListUsers answer.
fn attr<'a>(attributes: &'a Value, name: &str) -> Option<&'a str> {
    attributes
        .as_array()?
        .iter()
        .find(|a| a["Name"] == name)
        .and_then(|a| a["Value"].as_str())
}

/// Where a client expects the code to go from what the API shows it: the
/// first recovery mechanism, by priority, whose contact the user has and
/// has verified.
fn predicted(pool: &Value, attributes: &Value) -> &'static str {
    let mut mechanisms = pool["AccountRecoverySetting"]["RecoveryMechanisms"]
        .as_array()
        .unwrap()
        .clone();
    mechanisms.sort_by_key(|m| m["Priority"].as_u64());
    let verified = |contact: &str, flag: &str| {
        attr(attributes, contact).is_some() && attr(attributes, flag) == Some("true")
    };
    for mechanism in mechanisms {
        match mechanism["Name"].as_str() {
            Some("verified_email") if verified("email", "email_verified") => return "email",
            Some("verified_phone_number") if verified("phone_number", "phone_number_verified") => {
                return "sms";
            }
            _ => {}
        }
    }
    "none"
}

/// Where the simulator sent the user's code, by its own counters.
fn sent_by(state: &State, username: &str) -> &'static str {
    let user = state.user(DEFAULT_POOL, username).unwrap();
    match (user.emails_sent, user.sms_sent) {
        (1, 0) => "email",
        (0, 1) => "sms",
        _ => "none",
    }
}

#[test]
fn a_client_predicts_the_reset_channel_from_attributes_and_priority() {
    for (first, second, both_by) in [
        ("verified_email", "verified_phone_number", "email"),
        ("verified_phone_number", "verified_email", "sms"),
    ] {
        let state = config(|c| {
            c.pool_defaults.recovery = vec![first.into(), second.into()];
            c.users = contact_seeds();
        });
        let pool = ok(call(
            &state,
            Op::DescribeUserPool,
            json!({"UserPoolId": DEFAULT_POOL}),
        ))["UserPool"]
            .clone();
        let mut predictions = Vec::new();
        for seed in contact_seeds() {
            let name = seed.username.as_str();
            let got = ok(call(
                &state,
                Op::AdminGetUser,
                json!({"UserPoolId": DEFAULT_POOL, "Username": name}),
            ));
            let filter = format!("username = \"{name}\"");
            let listed = ok(call(
                &state,
                Op::ListUsers,
                json!({"UserPoolId": DEFAULT_POOL, "Filter": filter}),
            ));
            assert_eq!(
                listed["Users"][0]["Attributes"], got["UserAttributes"],
                "{name}"
            );
            let prediction = predicted(&pool, &got["UserAttributes"]);
            reset(&state, name);
            assert_eq!(
                prediction,
                sent_by(&state, name),
                "{name} with {first} first"
            );
            predictions.push(prediction);
        }
        assert_eq!(
            predictions,
            ["email", "sms", both_by, "none", "none", "email"]
        );
        let totals = state.totals();
        let by_email = predictions.iter().filter(|p| **p == "email").count() as u64;
        assert_eq!(totals.codes_by_email, by_email);
        assert_eq!(totals.codes_by_sms, 6 - 2 - by_email);
        assert_eq!(
            totals.users_reset, 4,
            "no code, no reset for CONFIRMED users"
        );
    }
}

#[test]
fn contacts_show_as_seeded_in_user_attributes() {
    let state = config(|c| c.users = contact_seeds());
    let attributes = |name: &str| {
        ok(call(
            &state,
            Op::AdminGetUser,
            json!({"UserPoolId": DEFAULT_POOL, "Username": name}),
        ))["UserAttributes"]
            .clone()
    };
    let phone_only = attributes("phone-only");
    assert_eq!(attr(&phone_only, "email"), None);
    assert_eq!(attr(&phone_only, "email_verified"), None);
    assert_eq!(attr(&phone_only, "phone_number"), Some("+15555550100"));
    assert_eq!(attr(&phone_only, "phone_number_verified"), Some("true"));
    let neither = attributes("neither");
    assert_eq!(attr(&neither, "email_verified"), Some("false"));
    assert_eq!(attr(&neither, "phone_number"), None);
    let unverified = attributes("unverified-phone-only");
    assert_eq!(attr(&unverified, "phone_number"), Some("+15550001111"));
    assert_eq!(attr(&unverified, "phone_number_verified"), Some("false"));
    let mixed = attributes("email-and-unverified-phone");
    assert_eq!(attr(&mixed, "email"), Some("e@example.org"));
    assert_eq!(attr(&mixed, "email_verified"), Some("true"));
    let by_phone = ok(call(
        &state,
        Op::ListUsers,
        json!({"UserPoolId": DEFAULT_POOL, "Filter": "phone_number = \"+15550002222\""}),
    ));
    assert_eq!(
        by_phone["Users"][0]["Username"],
        "email-and-unverified-phone"
    );
}

#[test]
fn reset_required_user_without_verified_contact_resets_without_a_code() {
    let state = config(|c| {
        c.users = vec![SeedUser {
            status: Some("RESET_REQUIRED".into()),
            email_verified: Some(false),
            ..seed("stuck")
        }]
    });
    assert_eq!(reset(&state, "stuck"), "ok");
    let totals = state.totals();
    assert_eq!(
        (
            totals.codes_by_email,
            totals.codes_by_sms,
            totals.resets_without_code
        ),
        (0, 0, 1)
    );
    assert_eq!(
        state
            .user(DEFAULT_POOL, "stuck")
            .unwrap()
            .resets_without_code,
        1
    );
}
