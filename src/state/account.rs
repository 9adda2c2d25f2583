//! One account's latest results: its import status and, where a watch list asks for it,
//! its presence, each with why it is unknown and since when it is as it is.
//!
//! Pure data and the rules on it (drift, when a value changes); no I/O.

use std::num::NonZeroU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Expect, PresenceExpect};
use crate::tim::{AccountStatus, Platform, PresenceStatus, Unknown};

/// The import status of an account as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Imported,
    NotImported,
    /// Not checked yet, or the latest check gave no status.
    Unknown,
}

impl Status {
    /// Every status, in the order they are shown.
    pub const ALL: [Status; 3] = [Status::Imported, Status::NotImported, Status::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Imported => "imported",
            Status::NotImported => "not_imported",
            Status::Unknown => "unknown",
        }
    }

    /// Whether this status differs from what the watch list expects. Unknown never does.
    pub fn drifts_from(self, expected: Expect) -> bool {
        match self {
            Status::Imported => expected != Expect::Imported,
            Status::NotImported => expected != Expect::NotImported,
            Status::Unknown => false,
        }
    }
}

impl From<Option<AccountStatus>> for Status {
    fn from(status: Option<AccountStatus>) -> Self {
        match status {
            Some(AccountStatus::Imported) => Status::Imported,
            Some(AccountStatus::NotImported) => Status::NotImported,
            None => Status::Unknown,
        }
    }
}

/// The presence of an account as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceValue {
    Online,
    PushOnline,
    Offline,
    /// Not checked yet, or the latest check gave no presence.
    Unknown,
}

impl PresenceValue {
    /// Every value, in the order they are shown.
    pub const ALL: [PresenceValue; 4] = [
        PresenceValue::Online,
        PresenceValue::PushOnline,
        PresenceValue::Offline,
        PresenceValue::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PresenceValue::Online => "online",
            PresenceValue::PushOnline => "push_online",
            PresenceValue::Offline => "offline",
            PresenceValue::Unknown => "unknown",
        }
    }

    /// Whether a known presence falls short of the watch list's. Unknown never does.
    pub fn drifts_from(self, expected: PresenceExpect) -> bool {
        match self {
            PresenceValue::Online => expected.drifts_from(PresenceStatus::Online),
            PresenceValue::PushOnline => expected.drifts_from(PresenceStatus::PushOnline),
            PresenceValue::Offline => expected.drifts_from(PresenceStatus::Offline),
            PresenceValue::Unknown => false,
        }
    }
}

impl From<Option<PresenceStatus>> for PresenceValue {
    fn from(presence: Option<PresenceStatus>) -> Self {
        match presence {
            Some(PresenceStatus::Online) => PresenceValue::Online,
            Some(PresenceStatus::PushOnline) => PresenceValue::PushOnline,
            Some(PresenceStatus::Offline) => PresenceValue::Offline,
            None => PresenceValue::Unknown,
        }
    }
}

/// The latest result of one check of one account, and since when it is so.
///
/// `since` is when the known value last changed, where this run saw it change: checks that
/// gave no value (an API failure) neither move nor clear it. A value held since the first
/// check has no `since`: it may be years old. `unknown_since` is when the latest run of
/// failed checks began, after a known value.
///
/// Kept small (48 bytes), as there is one per account and check: a reason for an unknown
/// value is shared by every account it applies to, and times are [`Stamp`]s.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed<K> {
    /// The latest result: a value, or why there is none.
    latest: Result<K, Arc<Unknown>>,
    /// The latest value that was known, for telling changes apart from failures.
    pub last_known: Option<K>,
    known_since: Option<Stamp>,
    unknown_since: Option<Stamp>,
    /// When the account was first checked (in this configuration).
    first_checked: Option<Stamp>,
}

/// A time after 1970 in 8 bytes: nanoseconds since the Unix epoch, exact until 2554.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp(NonZeroU64);

impl Stamp {
    fn of(time: SystemTime) -> Self {
        let nanos = time.duration_since(UNIX_EPOCH).map_or(1, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        });
        Stamp(NonZeroU64::new(nanos).unwrap_or(NonZeroU64::MIN))
    }

    fn time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.0.get())
    }
}

/// The reason of an account not checked yet, shared by all of them.
fn not_checked() -> Arc<Unknown> {
    static NOT_CHECKED: OnceLock<Arc<Unknown>> = OnceLock::new();
    Arc::clone(NOT_CHECKED.get_or_init(|| {
        Arc::new(Unknown {
            code: "not_checked".to_owned(),
            message: "not checked yet".to_owned(),
            in_reply: false,
        })
    }))
}

impl<K: Copy + Eq> Observed<K> {
    /// Not checked yet: unknown, with that reason.
    pub fn not_checked() -> Self {
        Observed {
            latest: Err(not_checked()),
            last_known: None,
            known_since: None,
            unknown_since: None,
            first_checked: None,
        }
    }

    /// The latest known value, `None` when the latest check gave none.
    pub fn value(&self) -> Option<K> {
        self.latest.as_ref().ok().copied()
    }

    /// Why the latest check gave no value.
    pub fn error(&self) -> Option<&Arc<Unknown>> {
        self.latest.as_ref().err()
    }

    /// Whether the latest check gave a value.
    pub fn is_known(&self) -> bool {
        self.latest.is_ok()
    }

    /// When the known value last changed, where that was seen.
    pub fn since(&self) -> Option<SystemTime> {
        self.known_since.map(Stamp::time)
    }

    /// While the latest check gave no value: since when, where a known value was lost.
    pub fn unknown_since(&self) -> Option<SystemTime> {
        match self.latest {
            Ok(_) => None,
            Err(_) => self.unknown_since.map(Stamp::time),
        }
    }

    /// When the account was first checked (in this configuration); `None` before.
    pub fn first_checked(&self) -> Option<SystemTime> {
        self.first_checked.map(Stamp::time)
    }

    /// Whether a check has reported on the account.
    pub fn checked(&self) -> bool {
        self.first_checked.is_some()
    }

    /// Takes a check's result at `at`. Returns the known value before and after when the
    /// known value changed (for logging drift changes once).
    pub fn record(
        &mut self,
        result: Result<K, Arc<Unknown>>,
        at: SystemTime,
    ) -> Option<(Option<K>, K)> {
        let was_known = self.latest.is_ok();
        let at = Stamp::of(at);
        self.first_checked.get_or_insert(at);
        let mut change = None;
        match &result {
            Ok(value) => {
                if self.last_known != Some(*value) {
                    // The first known value was not seen to begin.
                    self.known_since = self.last_known.map(|_| at);
                    change = Some((self.last_known, *value));
                    self.last_known = Some(*value);
                }
                self.unknown_since = None;
            }
            Err(_) if was_known => self.unknown_since = Some(at),
            Err(_) => {}
        }
        self.latest = result;
        change
    }
}

/// Everything known about one UserID of an app, whatever watch lists hold it.
///
/// Kept small (88 bytes), as a million of them may be watched: what only presence needs
/// is boxed, and absent where no list checks it.
#[derive(Debug, Clone)]
pub struct Account {
    pub import: Observed<AccountStatus>,
    /// `Some` when a watch list holding the account checks presence.
    pub presence: Option<Box<Observed<PresenceStatus>>>,
    /// The per-platform detail of the latest known presence.
    pub platforms: Box<[Platform]>,
    /// Indices of the watch lists holding the account, in the configuration in force.
    pub(super) lists: Box<[u32]>,
}

impl Account {
    pub(super) fn new() -> Self {
        Account {
            import: Observed::not_checked(),
            presence: None,
            platforms: Box::default(),
            lists: Box::default(),
        }
    }

    /// The import status as shown.
    pub fn status(&self) -> Status {
        Status::from(self.import.value())
    }

    /// The presence as shown; `None` when no watch list of the account checks it.
    pub fn presence(&self) -> Option<PresenceValue> {
        self.presence
            .as_ref()
            .map(|presence| PresenceValue::from(presence.value()))
    }

    /// Whether a check the account needs has never reported on it.
    pub fn has_unchecked(&self) -> bool {
        !self.import.checked() || self.presence.as_ref().is_some_and(|p| !p.checked())
    }

    /// Whether every check the account needs gave a value in the latest cycle.
    pub fn all_known(&self) -> bool {
        self.import.is_known() && self.presence.as_ref().is_none_or(|p| p.is_known())
    }

    /// The indices of the watch lists holding the account, in the configuration in force.
    pub(super) fn lists(&self) -> impl Iterator<Item = usize> + '_ {
        self.lists.iter().map(|&index| index as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_stays_small() {
        assert_eq!(std::mem::size_of::<Observed<AccountStatus>>(), 48);
        assert_eq!(std::mem::size_of::<Account>(), 88);
    }

    #[test]
    fn a_stamp_keeps_the_time_exactly() {
        let time = UNIX_EPOCH + Duration::new(1_800_000_000, 123_456_789);
        assert_eq!(Stamp::of(time).time(), time);
        assert_eq!(
            Stamp::of(UNIX_EPOCH).time(),
            UNIX_EPOCH + Duration::from_nanos(1)
        );
    }

    #[test]
    fn the_presence_drift_rule() {
        use PresenceExpect::{Online, Reachable};
        for (value, expected, drift) in [
            (PresenceValue::Online, Online, false),
            (PresenceValue::PushOnline, Online, true),
            (PresenceValue::Offline, Online, true),
            (PresenceValue::Unknown, Online, false),
            (PresenceValue::Online, Reachable, false),
            (PresenceValue::PushOnline, Reachable, false),
            (PresenceValue::Offline, Reachable, true),
            (PresenceValue::Unknown, Reachable, false),
        ] {
            assert_eq!(
                value.drifts_from(expected),
                drift,
                "{value:?} against {expected:?}"
            );
        }
    }

    #[test]
    fn the_import_drift_rule() {
        for (status, expected, drift) in [
            (Status::Imported, Expect::Imported, false),
            (Status::NotImported, Expect::Imported, true),
            (Status::Unknown, Expect::Imported, false),
            (Status::Imported, Expect::NotImported, true),
            (Status::NotImported, Expect::NotImported, false),
            (Status::Unknown, Expect::NotImported, false),
        ] {
            assert_eq!(
                status.drifts_from(expected),
                drift,
                "{status:?} against {expected:?}"
            );
        }
    }
}
