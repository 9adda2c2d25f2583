//! The two REST APIs the exporter calls, their paths, batch limits and metric labels.

/// The path of account_check, appended to the endpoint.
pub const ACCOUNT_CHECK_PATH: &str = "/v4/im_open_login_svc/account_check";

/// The path of query_online_status, appended to the endpoint.
pub const QUERY_ONLINE_STATUS_PATH: &str = "/v4/openim/query_online_status";

/// One REST API of Tencent Cloud IM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Api {
    /// `account_check`: whether accounts are imported. 100 calls/s, 100 UserIDs a call.
    AccountCheck,
    /// `query_online_status`: whether accounts are online. 200 calls/s, 500 UserIDs a call.
    QueryOnlineStatus,
}

impl Api {
    /// Both APIs, in the order they are shown.
    pub const ALL: [Api; 2] = [Api::AccountCheck, Api::QueryOnlineStatus];

    /// The `api` label value.
    pub fn label(self) -> &'static str {
        match self {
            Api::AccountCheck => "account_check",
            Api::QueryOnlineStatus => "query_online_status",
        }
    }

    /// The path appended to the endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Api::AccountCheck => ACCOUNT_CHECK_PATH,
            Api::QueryOnlineStatus => QUERY_ONLINE_STATUS_PATH,
        }
    }

    /// The most UserIDs one call may carry.
    pub fn max_items(self) -> usize {
        match self {
            Api::AccountCheck => super::wire::MAX_ITEMS,
            Api::QueryOnlineStatus => super::presence::MAX_ITEMS,
        }
    }

    /// The most calls per second the service allows an app by default.
    pub fn service_rate_limit(self) -> u32 {
        match self {
            Api::AccountCheck => 100,
            Api::QueryOnlineStatus => 200,
        }
    }

    /// The reply field that carries an account's state, for messages.
    pub(crate) fn status_field(self) -> &'static str {
        match self {
            Api::AccountCheck => "AccountStatus",
            Api::QueryOnlineStatus => "Status",
        }
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
