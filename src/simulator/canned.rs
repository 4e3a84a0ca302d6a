//! Benchmark mode (`static_answers`): every well-formed request answers
//! success at once, from nothing but the request and the configuration, so
//! a throughput benchmark measures the client, not the simulator. Requests
//! are still validated: a request Cognito would refuse is not well-formed.

use serde_json::{Map, Value, json};

use super::actions::provisioned_limit;
use super::answer::Answer;
use super::config::DEFAULT_POOL;
use super::ops::Op;
use super::pools::Pool;
use super::state::State;
use super::validate;

/// The canned answer to a Cognito request.
pub(crate) fn answer(state: &State, op: Op, body: &Map<String, Value>) -> Answer {
    let params = match validate::parse(op, body) {
        Ok(p) => p,
        Err(e) => return Answer::Err(e),
    };
    let config = &state.config;
    match op {
        Op::AdminGetUser => Answer::Ok(json!({
            "Username": params.username,
            "UserStatus": "CONFIRMED",
            "Enabled": true,
            // A verified email: a dry run predicts a reset, as for most users.
            "UserAttributes": [
                {"Name": "email", "Value": "user@example.com"},
                {"Name": "email_verified", "Value": "true"},
            ],
            "UserCreateDate": 0.0,
            "UserLastModifiedDate": 0.0,
        })),
        Op::ListUsers | Op::ListUsersInGroup => Answer::Ok(json!({"Users": []})),
        Op::DescribeUserPool => {
            let settings = config
                .settings_of(&params.pool)
                .or_else(|| config.settings_of(DEFAULT_POOL))
                .cloned()
                .unwrap_or_default();
            let pool = Pool::new(&params.pool, settings, 0.0);
            Answer::Ok(json!({"UserPool": pool.describe()}))
        }
        Op::GetProvisionedLimit => provisioned_limit(config, &params),
        Op::AdminResetUserPassword | Op::AdminUserGlobalSignOut | Op::AdminDisableUser => {
            Answer::Ok(json!({}))
        }
    }
}
