#!/usr/bin/env bash
# The real @nozbe/watermelondb against the landpatrol binary, with the code of
# mobile-api-docs/guides/watermelondb.md: tests/clients/watermelondb/run.sh sqlite|postgres
# Needs `cargo build --locked --bin landpatrol` first, Node 20 and npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind="${1:-sqlite}"

# npm ci once per lockfile: a second run (the other database) reuses node_modules.
lock_sum="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [[ "$(cat "$here/node_modules/.lp-lock-sha256" 2>/dev/null || true)" != "$lock_sum" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$here/node_modules/.lp-lock-sha256"
fi

# shellcheck source=../server.sh
source "$here/../server.sh"
trap stop_server EXIT
start_server "$kind"
cd "$here"
LP_BASE_URL="$LP_BASE_URL" node run.js
