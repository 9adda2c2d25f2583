//! Fuzz target: any text as the web configuration file (`--web.config.file`), through
//! parsing and every check. Files it names are resolved against an empty folder, so the
//! certificate and key parsers see only the inline PEM a document carries.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tim_account_exporter::webconfig;

fuzz_target!(|text: &str| {
    let _ = webconfig::parse(
        text,
        &std::env::temp_dir().join("tim-account-exporter-fuzz-empty"),
    );
});
