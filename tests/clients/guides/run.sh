#!/usr/bin/env bash
# Every guide's shell walkthrough (the ```sh blocks of mobile-api-docs/guides/*.md) against a
# demo server: tests/clients/guides/run.sh sqlite|postgres [guide.md ...]
# Needs `cargo build --locked --bin landpatrol` first, curl, jq and python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind="${1:-sqlite}"
shift || true
command -v jq >/dev/null 2>&1 || bash "$here/../../../scripts/apt-install.sh" jq
# The walkthroughs log in many times.
export LANDPATROL__AUTH__LOGIN_FAILURES_PER_USER=1000000
export LANDPATROL__AUTH__LOGIN_FAILURES_PER_ADDRESS=1000000
# shellcheck source=../server.sh
source "$here/../server.sh"
trap stop_server EXIT
start_server "$kind"
python3 "$here/run_guides.py" "$LP_BASE_URL" "$@"
