//! Fuzz target: any text as a UserSig, through the decoder and checks the simulator uses
//! (base64 in the UserSig alphabet, zlib, the JSON document, the HMAC).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tim_account_exporter::tim::usersig;

fuzz_target!(|text: &str| {
    let _ = usersig::verify(text, 1_400_000_000, "administrator", "fuzz-key", 1_700_000_000);
    let _ = usersig::verify_with_userbuf(
        text,
        1_400_000_000,
        "administrator",
        "fuzz-key",
        1_700_000_000,
        Some(b"buf"),
    );
});
