//! Fuzz target: any bytes as an account_check reply body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tim_account_exporter::tim::wire;

fuzz_target!(|body: &[u8]| {
    let _ = wire::parse_reply(body);
});
