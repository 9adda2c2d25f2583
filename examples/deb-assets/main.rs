//! Writes the made files of the Debian package (man page, completions, units):
//! `cargo run --locked --example deb-assets [-- DIR]`, by default into `target/deb-assets/`,
//! the folder the package's assets are taken from. `render.rs` says what is written;
//! `deploy/debian/build-package.sh` runs this before `cargo deb`.

mod render;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/deb-assets"), PathBuf::from);
    match render::write_all(&dir) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
