#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), with its seed corpus.
# Needs the nightly toolchain and cargo-fuzz. New crashes are left in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
for target in config account_check_reply presence_reply usersig web_config; do
  mkdir -p "corpus/$target"
  # Inputs it finds go to a scratch folder; the committed corpus stays the seeds.
  scratch="$(mktemp -d)"
  echo "fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  rm -rf "$scratch"
done
