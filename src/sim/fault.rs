//! The failures the simulator can inject into either API, and their command-line spelling.

use std::fmt;
use std::str::FromStr;

/// One way a call can go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No reply at all: the request hangs until the client gives up.
    Timeout,
    /// HTTP 502 from the gateway.
    Http502,
    /// A truncated JSON envelope.
    Malformed,
    /// HTTP 200 with an HTML page.
    NotJson,
    /// A valid envelope padded past 1 MiB, with a Content-Length.
    Oversized,
    /// A valid envelope followed by padding streamed without end or Content-Length.
    OversizedChunked,
    /// The whole call fails with this ErrorCode.
    Code(i64),
    /// The first item fails with 70500: its ResultCode in account_check, an ErrorList entry
    /// in query_online_status.
    ItemError,
    /// The first item is left out of the reply.
    MissingItem,
    /// The reply carries an item for a UserID nobody asked for.
    ExtraItem,
    /// The items come back in reverse order.
    Reorder,
    /// The first item comes back twice, the second time with another status.
    Conflict,
    /// The first item has a status the API does not define (`Frozen`, `Busy`).
    BadStatus,
}

impl Fault {
    /// One fault of every kind (a whole-call failure stands for all `Code`s).
    pub const ONE_OF_EACH: [Fault; 13] = [
        Fault::Timeout,
        Fault::Http502,
        Fault::Malformed,
        Fault::NotJson,
        Fault::Oversized,
        Fault::OversizedChunked,
        Fault::Code(70169),
        Fault::ItemError,
        Fault::MissingItem,
        Fault::ExtraItem,
        Fault::Reorder,
        Fault::Conflict,
        Fault::BadStatus,
    ];

    /// Faults a retry or a later cycle recovers from, for `--fault-rate` without `--faults`.
    pub const TRANSIENT: [Fault; 6] = [
        Fault::Http502,
        Fault::Malformed,
        Fault::Code(70169),
        Fault::Code(60007),
        Fault::ItemError,
        Fault::Reorder,
    ];
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Timeout => f.write_str("timeout"),
            Fault::Http502 => f.write_str("http502"),
            Fault::Malformed => f.write_str("malformed"),
            Fault::NotJson => f.write_str("not-json"),
            Fault::Oversized => f.write_str("oversized"),
            Fault::OversizedChunked => f.write_str("oversized-chunked"),
            Fault::Code(code) => write!(f, "code:{code}"),
            Fault::ItemError => f.write_str("item-error"),
            Fault::MissingItem => f.write_str("missing-item"),
            Fault::ExtraItem => f.write_str("extra-item"),
            Fault::Reorder => f.write_str("reorder"),
            Fault::Conflict => f.write_str("conflict"),
            Fault::BadStatus => f.write_str("bad-status"),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "timeout" => Fault::Timeout,
            "http502" => Fault::Http502,
            "malformed" => Fault::Malformed,
            "not-json" => Fault::NotJson,
            "oversized" => Fault::Oversized,
            "oversized-chunked" => Fault::OversizedChunked,
            "item-error" => Fault::ItemError,
            "missing-item" => Fault::MissingItem,
            "extra-item" => Fault::ExtraItem,
            "reorder" => Fault::Reorder,
            "conflict" => Fault::Conflict,
            "bad-status" => Fault::BadStatus,
            other => match other.strip_prefix("code:").map(str::parse::<i64>) {
                Some(Ok(code)) if code != 0 => Fault::Code(code),
                _ => {
                    return Err(format!(
                        "unknown fault {other:?}; expected timeout, http502, malformed, not-json, \
                         oversized, oversized-chunked, code:N, item-error, missing-item, extra-item, reorder, conflict or bad-status"
                    ))
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for fault in Fault::ONE_OF_EACH {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        assert!("code:0".parse::<Fault>().is_err());
        assert!("code:x".parse::<Fault>().is_err());
        assert!("explode"
            .parse::<Fault>()
            .unwrap_err()
            .contains("expected timeout"));
    }
}
