#!/usr/bin/env bash
# The officers' console and the public tip page in a real Chromium (Debian's /usr/bin/chromium,
# driven by playwright-core) against the landpatrol binary: tests/clients/browser/run.sh sqlite|postgres
# Needs `cargo build --locked --bin landpatrol` first (the pages are built into the binary), Node 20,
# npm and chromium. Extra arguments pick test files by name prefix: run.sh sqlite report
# Screenshots land in tests/clients/browser/screenshots/<database>/<suite>/; UPDATE_SCREENSHOTS=1 copies
# the README's pictures from them into mobile-api-docs/screenshots/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind="${1:-sqlite}"
shift || true

# shellcheck source=../npm.sh
source "$here/../npm.sh"
npm_ci_once "$here"

# The tests sign in a lot (one login per check of the API).
export LANDPATROL__AUTH__LOGIN_FAILURES_PER_USER=1000000
export LANDPATROL__AUTH__LOGIN_FAILURES_PER_ADDRESS=1000000

# shellcheck source=../server.sh
source "$here/../server.sh"
trap stop_server EXIT
start_server "$kind"
cd "$here"
rm -rf "$here/screenshots/$kind"
LP_BASE_URL="$LP_BASE_URL" node run.js "$@"

# UPDATE_SCREENSHOTS=1: the README's pictures, from this run.
if [[ "${UPDATE_SCREENSHOTS:-}" == 1 ]]; then
  docs="$here/../../../mobile-api-docs/screenshots"
  mkdir -p "$docs"
  s="$here/screenshots/$kind"
  cp "$s/console/02-new-case-live.png" "$docs/console-inbox.png"
  cp "$s/console/04-case-page.png" "$docs/console-case.png"
  cp "$s/console/09-district-map.png" "$docs/console-district-map.png"
  cp "$s/console/08-report-june-2017.png" "$docs/console-report.png"
  cp "$s/console/07-acceptance.png" "$docs/console-acceptance.png"
  cp "$s/report/06-filled.png" "$docs/report-form.png"
  cp "$s/report/07-receipt.png" "$docs/report-receipt.png"
  echo "README screenshots updated in mobile-api-docs/screenshots/"
fi
