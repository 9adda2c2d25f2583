//! `rate_limit`: a token bucket in front of everything, authentication included.
//!
//! As in exporter-toolkit: `interval` is a Go duration (`1s`, `1m30s`, `250ms`); a bare
//! whole number is nanoseconds, as Go reads it; 0, negative or absent turns the limit off.
//! `burst` is how many requests may come at once; with an interval and a burst of 0 (or
//! none) every request is refused with 429, which a warning points out.

use std::time::Duration;

use serde_yaml::Value;

use super::read::{self, join, Report};

const PATH: &str = "rate_limit";
const KEYS: &[&str] = &["interval", "burst"];

/// One request per `interval` on average, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Never zero.
    pub interval: Duration,
    /// 0: every request is refused.
    pub burst: u32,
}

/// Reads `rate_limit`. `None`: no limit.
pub(super) fn read(value: &Value, report: &mut Report) -> Option<RateLimit> {
    let section = read::section(value, PATH, KEYS, report)?;
    let interval_path = join(PATH, "interval");
    let burst_path = join(PATH, "burst");
    let interval = match section.get("interval").map(read::untagged) {
        None | Some(Value::Null) => Some(0),
        Some(Value::String(text)) => match go_duration(text) {
            Ok(nanos) => Some(nanos),
            Err(why) => {
                report.problem(
                    &interval_path,
                    format!("`{text}` is not a Go duration: {why}"),
                );
                None
            }
        },
        Some(Value::Number(number)) => match number.as_i64() {
            Some(nanos) => {
                if nanos != 0 {
                    report.warning(
                        &interval_path,
                        format!("a bare number is nanoseconds, as in Go: {nanos}ns; write a unit, such as 1s"),
                    );
                }
                Some(i128::from(nanos))
            }
            None => {
                report.problem(
                    &interval_path,
                    format!(
                        "{number} is not a duration: write it with a unit, such as 1s or 500ms"
                    ),
                );
                None
            }
        },
        Some(_) => {
            report.problem(&interval_path, "must be a duration, such as 1s or 500ms");
            None
        }
    };
    let burst = match section.get("burst").map(read::untagged) {
        None | Some(Value::Null) => Some(0),
        Some(Value::Number(number)) if number.as_i64().is_some() => {
            let burst = number.as_i64().unwrap_or_default();
            Some(u32::try_from(burst.max(0)).unwrap_or(u32::MAX))
        }
        Some(_) => {
            report.problem(&burst_path, "must be a whole number");
            None
        }
    };
    let (interval, burst) = (interval?, burst?);
    if interval <= 0 {
        if interval < 0 {
            report.warning(
                &interval_path,
                "negative: no rate limit, as in exporter-toolkit",
            );
        } else if burst > 0 {
            report.warning(
                &burst_path,
                "unused: without an interval there is no rate limit",
            );
        }
        return None;
    }
    if burst == 0 {
        report.warning(
            &burst_path,
            "0 (or missing) with an interval: every request is refused with 429; set it to at least 1",
        );
    }
    let nanos = u64::try_from(interval).unwrap_or(u64::MAX);
    Some(RateLimit {
        interval: Duration::from_nanos(nanos),
        burst,
    })
}

/// Go's `time.ParseDuration`: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`; in nanoseconds.
pub(super) fn go_duration(text: &str) -> Result<i128, String> {
    const MAX: u128 = 1 << 63;
    let invalid = || "the form is a number and a unit, repeated: 1h30m, 1.5s, 250ms".to_owned();
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let whole: u128 = if digits == 0 {
            0
        } else {
            rest[..digits].parse().map_err(|_| invalid())?
        };
        rest = &rest[digits..];
        let mut fraction = (0u128, 1u128);
        let mut fraction_digits = 0;
        if let Some(after_dot) = rest.strip_prefix('.') {
            fraction_digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            for digit in after_dot[..fraction_digits].bytes().take(18) {
                fraction = (fraction.0 * 10 + u128::from(digit - b'0'), fraction.1 * 10);
            }
            rest = &after_dot[fraction_digits..];
        }
        if digits == 0 && fraction_digits == 0 {
            return Err(invalid());
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(format!("missing unit; the units are {UNITS}"));
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("unknown unit `{unit}`; the units are {UNITS}")),
        };
        let value = whole
            .checked_mul(scale)
            .ok_or_else(invalid)?
            .saturating_add(fraction.0 * scale / fraction.1);
        total = total.saturating_add(value);
        if total > MAX {
            return Err("too long".to_owned());
        }
    }
    if negative {
        Ok(-(total as i128))
    } else if total == MAX {
        Err("too long".to_owned())
    } else {
        Ok(total as i128)
    }
}

const UNITS: &str = "ns, us (or µs), ms, s, m, h";
