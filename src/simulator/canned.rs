//! Benchmark mode (`static_answers`): every well-formed request answers
//! success at once, from nothing but the request and the configuration, so
//! a throughput benchmark measures the client, not the simulator. Requests
//! are still validated: a request Cognito would refuse is not well-formed.

use serde_json::{Map, Value, json};

use super::actions::provisioned_limit;
use super::answer::Answer;
use super::clients;
use super::config::{Config, DEFAULT_POOL, PoolSettings};
use super::ops::Op;
use super::pools::Pool;
use super::state::State;
use super::validate::{self, Params};

/// The pool's app clients as configured; DescribeUserPoolClient of an id
/// that is none of them still answers, with the default client's settings.
fn client_answer(config: &Config, op: Op, params: &Params) -> Answer {
    let mut pool = Pool::new(&params.pool, PoolSettings::default(), 0.0);
    pool.clients = config.clients_of(&params.pool);
    if op == Op::ListUserPoolClients {
        let page: Vec<Value> = pool
            .clients
            .iter()
            .take(params.limit.unwrap_or(60))
            .map(|c| {
                json!({"ClientId": clients::client_id(&pool.id, &c.name), "ClientName": c.name, "UserPoolId": pool.id})
            })
            .collect();
        return Answer::Ok(json!({"UserPoolClients": page}));
    }
    let client = pool
        .clients
        .iter()
        .find(|c| clients::client_id(&pool.id, &c.name) == params.client_id)
        .cloned()
        .unwrap_or_default();
    let mut described = clients::description(&pool, &client);
    described["ClientId"] = json!(params.client_id);
    Answer::Ok(json!({"UserPoolClient": described}))
}

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
        Op::ListUserPoolClients | Op::DescribeUserPoolClient => client_answer(config, op, &params),
        Op::AdminResetUserPassword | Op::AdminUserGlobalSignOut | Op::AdminDisableUser => {
            Answer::Ok(json!({}))
        }
    }
}
