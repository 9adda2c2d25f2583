//! Log lines for drift changes: a warning when an account goes into drift on a watch list,
//! an info line when it is back, for import status and presence alike. Judged on the
//! latest known values, so a failed check neither starts nor ends a drift here.

use std::collections::HashSet;

use super::account::{Account, Status};
use super::Accounts;
use crate::config::{AppConfig, WatchList};
use crate::tim::{AccountStatus, PresenceStatus};

/// A change of an account's known value: before (if any) and after.
pub(super) type Change<K> = Option<(Option<K>, K)>;

fn import_drift(list: &WatchList, status: Option<AccountStatus>) -> bool {
    status.is_some_and(|s| Status::from(Some(s)).drifts_from(list.expect))
}

fn presence_drift(list: &WatchList, presence: Option<PresenceStatus>) -> bool {
    match (list.presence, presence) {
        (Some(expected), Some(presence)) => expected.drifts_from(presence),
        _ => false,
    }
}

/// Logs what a cycle's changes of one account start or end on each of its watch lists.
pub(super) fn log_cycle_changes(
    config: &AppConfig,
    user_id: &str,
    account: &Account,
    import: Change<AccountStatus>,
    presence: Change<PresenceStatus>,
) {
    if import.is_none() && presence.is_none() {
        return;
    }
    for list in account.lists().map(|i| &config.watchlists[i]) {
        if let Some((before, after)) = import {
            let (was, is) = (import_drift(list, before), import_drift(list, Some(after)));
            let status = Status::from(Some(after)).as_str();
            if is && !was {
                tracing::warn!(app = %config.name, watchlist = %list.name, user_id, status,
                    expected = list.expect.as_str(), "account drifted");
            } else if was && !is {
                tracing::info!(app = %config.name, watchlist = %list.name, user_id, status,
                    "account back as expected");
            }
        }
        if let (Some(expected), Some((before, after))) = (list.presence, presence) {
            let (was, is) = (
                presence_drift(list, before),
                presence_drift(list, Some(after)),
            );
            if is && !was {
                tracing::warn!(app = %config.name, watchlist = %list.name, user_id,
                    presence = after.as_str(), expected = expected.as_str(), "account presence drifted");
            } else if was && !is {
                tracing::info!(app = %config.name, watchlist = %list.name, user_id,
                    presence = after.as_str(), "account presence back as expected");
            }
        }
    }
}

/// Which check drifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Import,
    Presence,
}

/// The (watch list, UserID, kind) triples in drift under `config`, on known values.
fn drifting(config: &AppConfig, accounts: &Accounts) -> HashSet<(String, String, Kind)> {
    let mut found = HashSet::new();
    for list in &config.watchlists {
        for id in &list.user_ids {
            let Some(account) = accounts.get(id) else {
                continue;
            };
            if import_drift(list, account.import.last_known) {
                found.insert((list.name.clone(), id.clone(), Kind::Import));
            }
            let presence = account.presence.as_ref().and_then(|p| p.last_known);
            if presence_drift(list, presence) {
                found.insert((list.name.clone(), id.clone(), Kind::Presence));
            }
        }
    }
    found
}

/// A changed `expect` or `presence`, or a known account moved to another list, can start
/// or end a drift without any new check: logged like the drift changes of a cycle. Only
/// accounts still on a list can be back: a removal is not a recovery.
pub(super) fn log_reload_changes(old: &AppConfig, new: &AppConfig, accounts: &Accounts) {
    if old.watchlists == new.watchlists {
        // The same lists expect the same of the same accounts: no drift starts or ends.
        return;
    }
    let (before, after) = (drifting(old, accounts), drifting(new, accounts));
    for (list, user_id, kind) in after.difference(&before) {
        let what = match kind {
            Kind::Import => "account drifted after a configuration reload",
            Kind::Presence => "account presence drifted after a configuration reload",
        };
        tracing::warn!(app = %new.name, watchlist = %list, user_id = %user_id, "{what}");
    }
    // The accounts already hold the new configuration's list indices.
    let listed = |list: &str, user_id: &str| {
        accounts
            .get(user_id)
            .is_some_and(|account| account.lists().any(|i| new.watchlists[i].name == list))
    };
    for (list, user_id, kind) in before.difference(&after) {
        if listed(list, user_id) {
            let what = match kind {
                Kind::Import => "account back as expected after a configuration reload",
                Kind::Presence => "account presence back as expected after a configuration reload",
            };
            tracing::info!(app = %new.name, watchlist = %list, user_id = %user_id, "{what}");
        }
    }
}
