//! A pool's app clients as the preflight needs them: their ids, and how
//! long the tokens each issues stay valid, in the units Cognito states.
//!
//! `TokenValidityUnits` is optional, and so is each of its members: a
//! validity without its unit is in the API's default unit (days for the
//! refresh token, hours for the access and ID tokens). A validity left out
//! (or 0) is Cognito's default: 30 days, one hour, one hour.

use std::time::Duration;

use cip::types::{TimeUnitsType, UserPoolClientType};

use cip::operation::RequestId;

use super::{CallResult, Cognito, call_error, cip, reply};

/// Cognito's refresh-token validity when a client states none.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(30 * 86_400);
/// Cognito's access- and ID-token validity when a client states none.
pub const DEFAULT_ACCESS: Duration = Duration::from_secs(3_600);

/// One app client and the lifetimes of the tokens it issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppClient {
    /// `ClientId`.
    pub id: String,
    /// `ClientName`.
    pub name: String,
    /// How long a refresh token stays valid.
    pub refresh: Duration,
    /// How long an access token stays valid.
    pub access: Duration,
    /// How long an ID token stays valid.
    pub id_token: Duration,
}

/// A page of ListUserPoolClients: client ids and the token for the next.
#[derive(Debug, Default)]
pub struct ClientPage {
    /// Client ids, in listing order.
    pub ids: Vec<String>,
    /// Token for the next page, if any.
    pub next: Option<String>,
}

fn unit_seconds(unit: Option<&TimeUnitsType>, default: u64) -> u64 {
    match unit {
        Some(TimeUnitsType::Days) => 86_400,
        Some(TimeUnitsType::Hours) => 3_600,
        Some(TimeUnitsType::Minutes) => 60,
        Some(TimeUnitsType::Seconds) => 1,
        _ => default,
    }
}

/// A validity as the API states it: `value` in `unit` (the API's default
/// unit when absent), Cognito's default when absent or 0.
fn validity(value: Option<i32>, unit: u64, default: Duration) -> Duration {
    match value {
        Some(v) if v > 0 => Duration::from_secs(u64::from(v.unsigned_abs()) * unit),
        _ => default,
    }
}

/// The token lifetimes of a `UserPoolClient`.
pub fn app_client(c: &UserPoolClientType) -> AppClient {
    let units = c.token_validity_units();
    let refresh = unit_seconds(units.and_then(|u| u.refresh_token()), 86_400);
    let access = unit_seconds(units.and_then(|u| u.access_token()), 3_600);
    let id = unit_seconds(units.and_then(|u| u.id_token()), 3_600);
    AppClient {
        id: c.client_id().unwrap_or_default().to_owned(),
        name: c.client_name().unwrap_or_default().to_owned(),
        refresh: validity(Some(c.refresh_token_validity()), refresh, DEFAULT_REFRESH),
        access: validity(c.access_token_validity(), access, DEFAULT_ACCESS),
        id_token: validity(c.id_token_validity(), id, DEFAULT_ACCESS),
    }
}

impl Cognito {
    /// One page of ListUserPoolClients (at most 60 clients, the API's
    /// largest page).
    pub async fn list_clients(&self, pool: &str, token: Option<String>) -> CallResult<ClientPage> {
        let out = self
            .client
            .list_user_pool_clients()
            .user_pool_id(pool)
            .max_results(60)
            .set_next_token(token)
            .send()
            .await
            .map_err(call_error)?;
        let page = ClientPage {
            ids: out
                .user_pool_clients()
                .iter()
                .filter_map(|c| c.client_id().map(str::to_owned))
                .collect(),
            next: out.next_token().map(str::to_owned),
        };
        Ok(reply(page, out.request_id()))
    }

    /// DescribeUserPoolClient, reduced to the client's token lifetimes.
    pub async fn describe_client(&self, pool: &str, client_id: &str) -> CallResult<AppClient> {
        let out = self
            .client
            .describe_user_pool_client()
            .user_pool_id(pool)
            .client_id(client_id)
            .send()
            .await
            .map_err(call_error)?;
        let mut client = out
            .user_pool_client()
            .map(app_client)
            .unwrap_or_else(|| app_client(&UserPoolClientType::builder().build()));
        if client.id.is_empty() {
            client_id.clone_into(&mut client.id);
        }
        Ok(reply(client, out.request_id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cip::types::TokenValidityUnitsType;

    #[test]
    fn validities_take_their_units_and_the_apis_defaults() {
        let units = TokenValidityUnitsType::builder()
            .refresh_token(TimeUnitsType::Hours)
            .access_token(TimeUnitsType::Minutes)
            .build();
        let c = UserPoolClientType::builder()
            .refresh_token_validity(10)
            .access_token_validity(5)
            .id_token_validity(2)
            .token_validity_units(units)
            .build();
        let got = app_client(&c);
        assert_eq!(got.refresh, Duration::from_secs(10 * 3600));
        assert_eq!(got.access, Duration::from_secs(5 * 60));
        // The ID token's unit is left out: hours.
        assert_eq!(got.id_token, Duration::from_secs(2 * 3600));
        // No units at all: days and hours; no values: Cognito's defaults.
        let bare = app_client(
            &UserPoolClientType::builder()
                .refresh_token_validity(7)
                .build(),
        );
        assert_eq!(bare.refresh, Duration::from_secs(7 * 86_400));
        assert_eq!(
            (bare.access, bare.id_token),
            (DEFAULT_ACCESS, DEFAULT_ACCESS)
        );
        let empty = app_client(&UserPoolClientType::builder().build());
        assert_eq!(empty.refresh, DEFAULT_REFRESH);
    }
}
