#!/usr/bin/env bash
# The console's first-page time and weight (BENCHMARKS.md): tests/clients/browser/bench.sh sqlite|postgres [rounds]
# Needs `cargo build --release --locked --bin landpatrol` (LP_BIN=target/release/landpatrol) or a debug build.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind="${1:-sqlite}"
rounds="${2:-20}"
# shellcheck source=../npm.sh
source "$here/../npm.sh"
npm_ci_once "$here"
# shellcheck source=../server.sh
source "$here/../server.sh"
trap stop_server EXIT
start_server "$kind"
cd "$here"
LP_BASE_URL="$LP_BASE_URL" node bench.js "$rounds"
