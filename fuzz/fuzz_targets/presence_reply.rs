//! Fuzz target: any bytes as a query_online_status reply body.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tim_account_exporter::tim::presence;

fuzz_target!(|body: &[u8]| {
    let _ = presence::parse_reply(body);
});
