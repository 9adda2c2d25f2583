//! Tencent Cloud IM REST boundary: account_check and query_online_status, the admin
//! UserSig, regions and retries.
//!
//! Nothing outside this module knows the wire format or the signing, and this module
//! imports nothing from the rest of the crate, so it could become a crate of its own.

pub mod api;
pub mod client;
pub mod error;
pub mod matcher;
pub mod pacer;
pub mod presence;
pub mod region;
pub mod retry;
pub mod secret;
pub mod signer;
pub mod usersig;
pub mod wire;

pub use api::{Api, ACCOUNT_CHECK_PATH, QUERY_ONLINE_STATUS_PATH};
pub use client::{
    AccountResult, Attempt, CheckOutcome, Client, ClientError, ClientSettings, Outcome,
    PresenceOutcome, PresenceResult, Unknown,
};
pub use presence::{Platform, Presence, PresenceStatus};
pub use region::Region;
pub use secret::Secret;
pub use wire::AccountStatus;
