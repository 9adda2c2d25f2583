//! Per watch list counts, computed once whenever an app's state changes, and read by
//! `/metrics`, the status page and the JSON alike.

use super::account::{PresenceValue, Status};
use super::Accounts;
use crate::config::WatchList;

/// How many accounts of one watch list are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCounts {
    pub imported: usize,
    pub not_imported: usize,
    pub unknown: usize,
    /// Accounts whose known status differs from the list's `expect`.
    pub drift: usize,
    /// `Some` when the list checks presence.
    pub presence: Option<PresenceCounts>,
}

/// How many accounts of one watch list have each presence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PresenceCounts {
    pub online: usize,
    pub push_online: usize,
    pub offline: usize,
    pub unknown: usize,
    /// Accounts whose known presence falls short of the list's `presence`.
    pub drift: usize,
}

impl ListCounts {
    /// Accounts in the list.
    pub fn accounts(&self) -> usize {
        self.imported + self.not_imported + self.unknown
    }

    /// Accounts with this status.
    pub fn status(&self, status: Status) -> usize {
        match status {
            Status::Imported => self.imported,
            Status::NotImported => self.not_imported,
            Status::Unknown => self.unknown,
        }
    }
}

impl PresenceCounts {
    /// Accounts with this presence.
    pub fn value(&self, value: PresenceValue) -> usize {
        match value {
            PresenceValue::Online => self.online,
            PresenceValue::PushOnline => self.push_online,
            PresenceValue::Offline => self.offline,
            PresenceValue::Unknown => self.unknown,
        }
    }

    fn add(&mut self, value: PresenceValue) {
        *match value {
            PresenceValue::Online => &mut self.online,
            PresenceValue::PushOnline => &mut self.push_online,
            PresenceValue::Offline => &mut self.offline,
            PresenceValue::Unknown => &mut self.unknown,
        } += 1;
    }
}

/// The counts of one watch list over the accounts of its app.
pub(super) fn count(list: &WatchList, accounts: &Accounts) -> ListCounts {
    let mut counts = ListCounts {
        presence: list.presence.map(|_| PresenceCounts::default()),
        ..ListCounts::default()
    };
    for id in &list.user_ids {
        let Some(account) = accounts.get(id) else {
            counts.unknown += 1;
            continue;
        };
        let status = account.status();
        *match status {
            Status::Imported => &mut counts.imported,
            Status::NotImported => &mut counts.not_imported,
            Status::Unknown => &mut counts.unknown,
        } += 1;
        counts.drift += usize::from(status.drifts_from(list.expect));
        if let (Some(expected), Some(presence)) = (list.presence, counts.presence.as_mut()) {
            let value = account.presence().unwrap_or(PresenceValue::Unknown);
            presence.add(value);
            presence.drift += usize::from(value.drifts_from(expected));
        }
    }
    counts
}
