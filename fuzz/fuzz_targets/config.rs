//! Fuzz target: any text as the configuration file, through parsing and validation.
//! Files it names are resolved against an empty folder; the environment is empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tim_account_exporter::config::{self, Sources};

fuzz_target!(|text: &str| {
    let no_env = |_: &str| None;
    let _ = config::from_yaml(
        text,
        &Sources {
            base_dir: std::env::temp_dir().join("tim-account-exporter-fuzz-empty"),
            env: &no_env,
        },
    );
});
