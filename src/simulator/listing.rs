//! ListUsers and ListUsersInGroup: filtered, paged listings in a stable
//! order, with pagination tokens (see `tokens`) good for one listing only.

use serde_json::{Value, json};

use super::answer::{Answer, fail};
use super::ops::Op;
use super::pools::{Entry, Pool};
use super::tokens::{open, seal};
use super::validate::Params;

/// ListUsers' page size when the request names none (its maximum).
const LIST_USERS_PAGE: usize = 60;
/// ListUsersInGroup's page size when the request names none: Cognito
/// answers 25 there, not the 60 its maximum would suggest.
const LIST_GROUP_PAGE: usize = 25;

/// One page of a listing.
pub(crate) fn list(pool: &Pool, op: Op, params: &Params, key: &[u8; 16]) -> Answer {
    let group = (op == Op::ListUsersInGroup).then_some(params.group.as_str());
    if let Some(group) = group
        && !pool.has_group(group)
    {
        return fail("ResourceNotFoundException", "Group not found.");
    }
    let scope = scope(pool, op, params);
    let after = match &params.token {
        Some(token) => match open(token, &scope, key) {
            Some(after) => Some(after),
            None => return fail("InvalidParameterException", "Invalid pagination token."),
        },
        None => None,
    };
    let default = if group.is_some() {
        LIST_GROUP_PAGE
    } else {
        LIST_USERS_PAGE
    };
    let limit = params.limit.unwrap_or(default);
    let mut page: Vec<(&String, &Entry)> = Vec::new();
    let mut next = None;
    for (k, entry) in pool.after(after.as_deref()) {
        if entry.user.only_read
            || group.is_some_and(|g| !entry.user.groups.iter().any(|ug| ug == g))
        {
            continue;
        }
        if params
            .filter
            .as_ref()
            .is_some_and(|f| !f.matches(&entry.name, &entry.user))
        {
            continue;
        }
        if page.len() == limit {
            next = page.last().map(|(last, _)| seal(last, &scope, key));
            break;
        }
        page.push((k, entry));
    }
    let wanted = params.attributes.as_deref();
    let users: Vec<Value> = page
        .iter()
        .map(|(_, e)| e.user.listing(&e.name, wanted))
        .collect();
    let mut answer = json!({"Users": users});
    if let Some(next) = next {
        let field = if group.is_some() {
            "NextToken"
        } else {
            "PaginationToken"
        };
        answer[field] = Value::String(next);
    }
    Answer::Ok(answer)
}

/// What a token is good for: this operation on this pool, group and filter.
fn scope(pool: &Pool, op: Op, params: &Params) -> String {
    format!(
        "{}\n{}\n{}\n{:?}",
        op.name(),
        pool.id,
        params.group,
        params.filter
    )
}
