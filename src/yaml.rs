//! The one place YAML text is parsed. Every configuration file the program reads (the main
//! configuration and the web configuration) goes through [`parse`]; the modules that own
//! those files only interpret what it returns.

use serde::de::DeserializeOwned;

/// Parses YAML text into `T`: serde structs, or a `serde_yaml::Value` to walk.
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, serde_yaml::Error> {
    serde_yaml::from_str(text)
}
