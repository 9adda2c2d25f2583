#!/usr/bin/env bash
# Builds the Debian package target/debian/tim-account-exporter_<version>-<revision>_<arch>.deb:
# first the files made from the code (man page and completions from the CLI definition, the
# units with the packaged binary's path) into target/deb-assets/, then `cargo deb`, which
# builds the release binary and packs the assets that Cargo.toml's [package.metadata.deb]
# lists. Needs cargo-deb (`cargo install --locked cargo-deb@3.8.0`); extra arguments go to
# `cargo deb` (e.g. --maintainer, --deb-revision).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo run --quiet --locked --example deb-assets -- target/deb-assets >/dev/null
cargo deb --locked "$@"
