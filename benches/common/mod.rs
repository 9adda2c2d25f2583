//! What the benchmarks share: starting a binary that logs the address it listens on.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `command` and returns it with the address it logs (`address=...`).
pub fn spawn_logging_address(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines.next().expect("an address is logged").expect("utf-8");
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining standard error so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}
