//! App clients: their ids (derived from pool and name, so tests can rely on
//! them) and what ListUserPoolClients and DescribeUserPoolClient answer.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::answer::{Answer, fail};
use super::config::{AppClient, TimeUnit, Validity};
use super::ops::Op;
use super::pools::Pool;
use super::tokens::{open, seal};
use super::validate::Params;

/// ListUserPoolClients' page size when the request names none (its
/// maximum).
const PAGE: usize = 60;

/// The id of the client named `name` in `pool`: 26 characters of `[a-z0-9]`,
/// as Cognito's look.
pub(crate) fn client_id(pool: &str, name: &str) -> String {
    const DIGITS: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let digest = Sha256::new()
        .chain_update(pool.as_bytes())
        .chain_update([0])
        .chain_update(name.as_bytes())
        .finalize();
    digest
        .iter()
        .take(26)
        .map(|b| DIGITS[usize::from(*b) % DIGITS.len()] as char)
        .collect()
}

/// One page of ListUserPoolClients.
pub(crate) fn list(pool: &Pool, params: &Params, key: &[u8; 16]) -> Answer {
    let scope = format!("{}\n{}", Op::ListUserPoolClients.name(), pool.id);
    let ids: Vec<String> = pool
        .clients
        .iter()
        .map(|c| client_id(&pool.id, &c.name))
        .collect();
    let start = match &params.token {
        None => 0,
        Some(token) => match open(token, &scope, key)
            .and_then(|after| ids.iter().position(|id| *id == after))
        {
            Some(at) => at + 1,
            None => return fail("InvalidParameterException", "Invalid pagination token."),
        },
    };
    let limit = params.limit.unwrap_or(PAGE);
    let end = (start + limit).min(ids.len());
    let page: Vec<Value> = (start..end)
        .map(|i| {
            json!({"ClientId": ids[i], "ClientName": pool.clients[i].name, "UserPoolId": pool.id})
        })
        .collect();
    let mut answer = json!({"UserPoolClients": page});
    if end < ids.len() {
        answer["NextToken"] = Value::String(seal(&ids[end - 1], &scope, key));
    }
    Answer::Ok(answer)
}

/// DescribeUserPoolClient.
pub(crate) fn describe(pool: &Pool, client_id_wanted: &str) -> Answer {
    match pool
        .clients
        .iter()
        .find(|c| client_id(&pool.id, &c.name) == client_id_wanted)
    {
        Some(client) => Answer::Ok(json!({"UserPoolClient": description(pool, client)})),
        None => fail(
            "ResourceNotFoundException",
            format!("User pool client {client_id_wanted} does not exist."),
        ),
    }
}

/// `UserPoolClient`, with the token validity as the client was given it
/// (or, without units, in the API's default units).
pub(crate) fn description(pool: &Pool, client: &AppClient) -> Value {
    let in_unit = |v: &Validity, unit: TimeUnit| (v.seconds() / unit.seconds()).max(1);
    let mut answer = json!({
        "ClientId": client_id(&pool.id, &client.name),
        "ClientName": client.name,
        "UserPoolId": pool.id,
        "CreationDate": pool.created,
        "LastModifiedDate": pool.created,
    });
    if client.units {
        answer["RefreshTokenValidity"] = json!(client.refresh.value);
        answer["AccessTokenValidity"] = json!(client.access.value);
        answer["IdTokenValidity"] = json!(client.id.value);
        answer["TokenValidityUnits"] = json!({
            "AccessToken": client.access.unit.name(),
            "IdToken": client.id.unit.name(),
            "RefreshToken": client.refresh.unit.name(),
        });
    } else {
        answer["RefreshTokenValidity"] = json!(in_unit(&client.refresh, TimeUnit::Days));
        answer["AccessTokenValidity"] = json!(in_unit(&client.access, TimeUnit::Hours));
        answer["IdTokenValidity"] = json!(in_unit(&client.id, TimeUnit::Hours));
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_stable_and_shaped_like_cognitos() {
        let id = client_id("us-east-1_A", "web");
        assert_eq!(id, client_id("us-east-1_A", "web"));
        assert_ne!(id, client_id("us-east-1_B", "web"));
        assert_ne!(id, client_id("us-east-1_A", "admin"));
        assert_eq!(id.len(), 26);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
