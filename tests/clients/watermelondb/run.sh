#!/usr/bin/env bash
# The real @nozbe/watermelondb against the landpatrol binary, with the code of
# mobile-api-docs/guides/watermelondb.md: tests/clients/watermelondb/run.sh sqlite|postgres
# Needs `cargo build --locked --bin landpatrol` first, Node 20 and npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind="${1:-sqlite}"

# shellcheck source=../npm.sh
source "$here/../npm.sh"
npm_ci_once "$here"

# shellcheck source=../server.sh
source "$here/../server.sh"
trap stop_server EXIT
start_server "$kind"
cd "$here"
LP_BASE_URL="$LP_BASE_URL" node run.js
