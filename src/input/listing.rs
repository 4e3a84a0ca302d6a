//! The pool itself as the source of rows: `--from-pool` (ListUsers, with an
//! optional filter) and `--from-group` (ListUsersInGroup).
//!
//! Pages go through the same retry driver and the UserList limiter as every
//! other call, and stream into the same bounded queue as a file's rows, so
//! listing and resetting overlap. The first page is fetched before the plan:
//! a listing that Cognito refuses (a bad filter, a group that does not
//! exist) stops the run before it starts, in the service's own words. Each
//! row carries the state the listing showed (status, enabled, verified
//! contacts), so no check is needed to predict it.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{Item, Row};
use crate::cognito::{CallError, Cognito, Listing, Op, UserPage};
use crate::retry::{Answer, Attempts, Caller};
use crate::shutdown::StopReason;

/// Lists one pool's (or group's) users.
pub struct Lister {
    /// The retry driver.
    pub caller: Arc<Caller>,
    /// The pool's client.
    pub cognito: Cognito,
    /// The pool's region.
    pub region: String,
    /// The pool.
    pub pool: String,
    /// Which users.
    pub listing: Listing,
    /// Attempts per page (`--max-attempts`).
    pub max_attempts: u32,
}

/// The first page, fetched before the plan.
pub enum FirstPage {
    /// Users, and the token for more.
    Page(UserPage),
    /// Cognito refused the listing.
    Refused(CallError),
    /// The run was stopped meanwhile.
    Stopped,
}

impl Lister {
    async fn page(&self, token: Option<String>) -> Answer<UserPage> {
        let (cognito, pool, listing) = (&self.cognito, &self.pool, &self.listing);
        let budget = Attempts::fresh(self.max_attempts);
        let (answer, _) = self
            .caller
            .call(&self.region, Op::List, budget, || {
                cognito.list_users(pool, listing, token.clone())
            })
            .await;
        answer
    }

    /// Fetches the first page.
    pub async fn first_page(&self) -> FirstPage {
        match self.page(None).await {
            Answer::Ok(reply) => FirstPage::Page(reply.value),
            Answer::Err(e) => FirstPage::Refused(e),
            Answer::Stopped => FirstPage::Stopped,
        }
    }

    /// Streams `first` and every following page into `tx`, a page at a
    /// time; stops the run if
    /// the listing cannot go on. Ends when the listing does, when the run
    /// stops, or when the queue's receiver is gone.
    pub async fn feed(self, first: UserPage, tx: mpsc::Sender<Vec<Item>>) {
        let mut page = first;
        let mut position = 0u64;
        loop {
            let rows = std::mem::take(&mut page.users).into_iter().map(|user| {
                position += 1;
                Item::Row(Row {
                    line: position,
                    username: user.username,
                    pool: self.pool.clone(),
                    metadata: Vec::new(),
                    known: Some(user.state),
                })
            });
            let rows: Vec<Item> = rows.collect();
            if !rows.is_empty() && tx.send(rows).await.is_err() {
                return;
            }
            let Some(token) = page.next.take() else {
                return;
            };
            page = match self.page(Some(token)).await {
                Answer::Ok(reply) => reply.value,
                Answer::Stopped => return,
                Answer::Err(e) => {
                    self.caller.stop.stop(StopReason::Fatal {
                        message: format!(
                            "listing the users of {} failed after {position} users: {}",
                            self.pool, e.message
                        ),
                        hint: "fix what the message says, then --resume (users already reset \
                               are skipped)"
                            .into(),
                        code: e.code,
                    });
                    return;
                }
            };
        }
    }
}
