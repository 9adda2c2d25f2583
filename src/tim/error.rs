//! How one account_check attempt can fail, and the bounded label each failure gets.
//!
//! Messages never contain the request URL (it carries the UserSig) nor a reply body.

/// One HTTP attempt that did not produce a usable reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    /// The attempt ran past its timeout.
    #[error("timed out")]
    Timeout,
    /// The connection could not be made, or broke before the reply was read.
    #[error("transport error: {0}")]
    Connect(String),
    /// The HTTP status was not 200.
    #[error("HTTP status {0}")]
    HttpStatus(u16),
    /// The body was too large or not the JSON envelope.
    #[error("{0}")]
    Decode(String),
    /// The envelope's `ErrorCode` was non-zero.
    #[error("ErrorCode {code}: {info}")]
    Api { code: i64, info: String },
}

impl AttemptError {
    /// The `code` label: the ErrorCode in decimal when it is a public code (60000–79999),
    /// `other` for any other ErrorCode, else `timeout`, `connect`, `http_<status>` or `decode`.
    pub fn label(&self) -> String {
        match self {
            AttemptError::Timeout => "timeout".to_owned(),
            AttemptError::Connect(_) => "connect".to_owned(),
            AttemptError::HttpStatus(status) => format!("http_{status}"),
            AttemptError::Decode(_) => "decode".to_owned(),
            AttemptError::Api { code, .. } => code_label(*code),
        }
    }
}

/// A public error code (60000–79999) in decimal, anything else `other`, so a label's
/// values stay a bounded set whatever the server sends.
pub fn code_label(code: i64) -> String {
    if (60_000..=79_999).contains(&code) {
        code.to_string()
    } else {
        "other".to_owned()
    }
}

/// Describes a reqwest error without its URL, which carries the UserSig.
pub(crate) fn from_reqwest(err: reqwest::Error) -> AttemptError {
    if err.is_timeout() {
        return AttemptError::Timeout;
    }
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if err.is_decode() {
        AttemptError::Decode(message)
    } else {
        AttemptError::Connect(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(AttemptError::Timeout.label(), "timeout");
        assert_eq!(AttemptError::Connect("x".into()).label(), "connect");
        assert_eq!(AttemptError::HttpStatus(502).label(), "http_502");
        assert_eq!(AttemptError::Decode("x".into()).label(), "decode");
        let api = |code| AttemptError::Api {
            code,
            info: String::new(),
        };
        assert_eq!(api(60007).label(), "60007");
        assert_eq!(api(79999).label(), "79999");
        assert_eq!(api(80001).label(), "other");
        assert_eq!(api(10002).label(), "other");
        assert_eq!(api(-1).label(), "other");
    }
}
