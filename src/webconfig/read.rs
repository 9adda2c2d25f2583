//! Reading the parsed YAML tree the way exporter-toolkit reads the file (yaml.v2, strict,
//! into Go structs), but collecting every problem, each with its key path, instead of
//! stopping at the first.
//!
//! What yaml.v2 does and this copies: a null value leaves the zero value (an empty string,
//! `false`, an empty list or map); a number or boolean where a string is expected is taken
//! as its text; the YAML 1.1 words `yes`, `no`, `on`, `off`, `y` and `n` are booleans; an
//! unknown key is an error.

use std::fmt::Display;

use serde_yaml::Value;

/// Problems (the file is refused) and warnings (it is used, and the server logs them).
#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) problems: Vec<String>,
    pub(super) warnings: Vec<String>,
}

impl Report {
    pub(super) fn problem(&mut self, path: &str, message: impl Display) {
        self.problems.push(qualify(path, message));
    }

    pub(super) fn warning(&mut self, path: &str, message: impl Display) {
        self.warnings.push(qualify(path, message));
    }
}

fn qualify(path: &str, message: impl Display) -> String {
    if path.is_empty() {
        message.to_string()
    } else {
        format!("{path}: {message}")
    }
}

/// `path.key`, or `key` at the top.
pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[index]`.
pub(super) fn index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// A mapping whose keys are fixed, like a Go struct's fields.
pub(super) struct Section<'a> {
    entries: Vec<(&'static str, &'a Value)>,
}

impl<'a> Section<'a> {
    /// The value of a key: `None` when the key is absent, `Some(Value::Null)` when it is
    /// present without a value.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value)
    }

    /// Whether the key is written, with or without a value.
    pub(super) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
}

/// Reads a mapping of known keys. A null value is an empty section; an unknown key is a
/// problem naming it. `None` when the value is not a mapping at all.
pub(super) fn section<'a>(
    value: &'a Value,
    path: &str,
    known: &[&'static str],
    report: &mut Report,
) -> Option<Section<'a>> {
    let mut entries = Vec::new();
    for (key, value) in mapping(value, path, report)? {
        match known.iter().find(|name| **name == key) {
            Some(name) => entries.push((*name, value)),
            None => report.problem(
                path,
                format!("unknown key `{key}`; the keys are {}", known.join(", ")),
            ),
        }
    }
    Some(Section { entries })
}

/// The entries of a mapping with their keys as text. A null value is an empty mapping.
pub(super) fn mapping<'a>(
    value: &'a Value,
    path: &str,
    report: &mut Report,
) -> Option<Vec<(String, &'a Value)>> {
    match untagged(value) {
        Value::Null => Some(Vec::new()),
        Value::Mapping(mapping) => Some(
            mapping
                .iter()
                .map(|(key, value)| (key_text(key), value))
                .collect(),
        ),
        other => {
            report.problem(path, format!("must be a mapping, not {}", kind(other)));
            None
        }
    }
}

/// The items of a list. A null value is an empty list.
pub(super) fn list<'a>(value: &'a Value, path: &str, report: &mut Report) -> Option<&'a [Value]> {
    match untagged(value) {
        Value::Null => Some(&[]),
        Value::Sequence(items) => Some(items),
        other => {
            report.problem(path, format!("must be a list, not {}", kind(other)));
            None
        }
    }
}

/// A string: null is the empty string, a number or boolean its text. The value itself is
/// never part of a problem, since it may be a key or a password hash.
pub(super) fn string(value: &Value, path: &str, report: &mut Report) -> Option<String> {
    match untagged(value) {
        Value::Null => Some(String::new()),
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        other => {
            report.problem(path, format!("must be a string, not {}", kind(other)));
            None
        }
    }
}

/// A boolean: `true`/`false` and the YAML 1.1 words; null is `false`. A quoted `"true"`
/// is a string and refused, as yaml.v2 refuses it.
pub(super) fn boolean(value: &Value, path: &str, report: &mut Report) -> Option<bool> {
    const TRUE: &[&str] = &["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"];
    const FALSE: &[&str] = &["n", "N", "no", "No", "NO", "off", "Off", "OFF"];
    match untagged(value) {
        Value::Null => Some(false),
        Value::Bool(flag) => Some(*flag),
        Value::String(word) if TRUE.contains(&word.as_str()) => Some(true),
        Value::String(word) if FALSE.contains(&word.as_str()) => Some(false),
        _ => {
            report.problem(path, "must be true or false");
            None
        }
    }
}

/// The value under a YAML tag such as `!!str` or `!custom`: yaml.v2 reads it as if untagged.
pub(super) fn untagged(value: &Value) -> &Value {
    match value {
        Value::Tagged(tagged) => untagged(&tagged.value),
        other => other,
    }
}

/// A mapping key as text, as yaml.v2 turns a key into a Go string.
fn key_text(key: &Value) -> String {
    match untagged(key) {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(tagged) => kind(&tagged.value),
    }
}
