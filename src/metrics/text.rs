//! The writer of the Prometheus text format 0.0.4 that every family of the state goes
//! through: a family's `# HELP` and `# TYPE` lines, then its samples, each family in one
//! piece. A family with no sample is left out altogether.

use std::borrow::Cow;
use std::fmt::{self, Display, Write};

/// The type of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Gauge,
    Counter,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metric family: its name, type and HELP text.
#[derive(Debug)]
pub(super) struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// A label value escaped for the text format: backslash, double quote and line feed.
pub(super) fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut escaped = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// Label pairs as they appear between the braces (`a="x",b="y"`), values escaped.
pub(super) fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{name}=\"{}\"", escape(value));
    }
    out
}

/// A sample value as the text format writes it: Go's `+Inf`, `-Inf` and `NaN`, else the
/// shortest decimal that reads back as the same number (what the `prometheus` crate writes).
#[derive(Debug, Clone, Copy)]
pub(super) struct Float(pub f64);

impl Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

/// The text being written.
#[derive(Debug, Default)]
pub(super) struct Text {
    out: String,
    /// The family whose header is due before its first sample.
    pending: Option<&'static Family>,
    /// The family samples are written to.
    current: Option<&'static Family>,
}

impl Text {
    /// An empty text with room for `capacity` bytes.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Text {
            out: String::with_capacity(capacity),
            ..Text::default()
        }
    }

    /// Starts `family`: the samples written next are its own. Its header is written with
    /// its first sample, so a family without samples leaves no trace.
    pub(super) fn family(&mut self, family: &'static Family) {
        self.pending = Some(family);
        self.current = Some(family);
    }

    /// Writes one sample of the current family: its name with `suffix` (`_bucket`, `_sum`,
    /// `_count`, or none), the labels (already escaped, as [`labels`] gives them) followed
    /// by `extra` where there is one, and the value.
    pub(super) fn sample(
        &mut self,
        suffix: &str,
        labels: &str,
        extra: Option<(&str, &str)>,
        value: impl Display,
    ) {
        let family = self
            .current
            .expect("a family is started before its samples");
        if let Some(pending) = self.pending.take() {
            let _ = write!(
                self.out,
                "# HELP {0} {1}\n# TYPE {0} {2}\n",
                pending.name,
                pending.help,
                pending.kind.as_str()
            );
        }
        self.out.push_str(family.name);
        self.out.push_str(suffix);
        match (labels.is_empty(), extra) {
            (true, None) => {}
            (false, None) => {
                let _ = write!(self.out, "{{{labels}}}");
            }
            (true, Some((name, extra))) => {
                let _ = write!(self.out, "{{{name}=\"{}\"}}", escape(extra));
            }
            (false, Some((name, extra))) => {
                let _ = write!(self.out, "{{{labels},{name}=\"{}\"}}", escape(extra));
            }
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// The text.
    pub(super) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::{escape, labels, Family, Float, Kind, Text};

    static GAUGE: Family = Family {
        name: "x_gauge",
        kind: Kind::Gauge,
        help: "A gauge.",
    };
    static EMPTY: Family = Family {
        name: "x_empty",
        kind: Kind::Counter,
        help: "Never written.",
    };

    #[test]
    fn families_without_samples_leave_nothing() {
        let mut text = Text::default();
        text.family(&EMPTY);
        text.family(&GAUGE);
        text.sample("", "", None, 1);
        text.sample("", &labels(&[("a", "x\"y")]), Some(("b", "z")), Float(0.5));
        text.sample("_sum", "", Some(("le", "+Inf")), Float(f64::INFINITY));
        assert_eq!(
            text.finish(),
            "# HELP x_gauge A gauge.\n# TYPE x_gauge gauge\nx_gauge 1\n\
             x_gauge{a=\"x\\\"y\",b=\"z\"} 0.5\nx_gauge_sum{le=\"+Inf\"} +Inf\n"
        );
    }

    #[test]
    fn values_are_written_as_the_prometheus_crate_writes_them() {
        for (value, written) in [
            (1.0, "1"),
            (0.025, "0.025"),
            (1_764_690_000.25, "1764690000.25"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(Float(value).to_string(), written);
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain_id-1@x"), "plain_id-1@x");
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("a\nb"), "a\\nb");
    }
}
