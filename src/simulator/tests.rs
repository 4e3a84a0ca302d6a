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
