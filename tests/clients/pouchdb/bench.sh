#!/usr/bin/env bash
# landpatrol's sync push and first-sync pull side by side with pouchdb-server (PouchDB in memory
# and on LevelDB): tests/clients/pouchdb/bench.sh [sqlite|postgres] [bench.js options]
#
#   tests/clients/pouchdb/bench.sh                     # SQLite, 3 rounds of 10,000 records
#   tests/clients/pouchdb/bench.sh postgres --rounds 3 # PostgreSQL on 127.0.0.1:5432 (see ../server.sh)
#
# Builds target/release/landpatrol (cargo build --release --bin landpatrol; set LP_NO_BUILD=1 to
# use the binary as it is), installs the pinned pouchdb-server of package-lock.json with `npm ci`
# into a folder of the system's temp directory (outside the tree, reused while the lockfile is
# unchanged; LP_POUCHDB_DIR names another), starts `landpatrol serve --demo` on a fresh database
# (../server.sh), two pouchdb-servers on free loopback ports (one in memory, one on LevelDB in a
# fresh temporary folder, both with logging off), and runs bench.js. Needs Node 20 and npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
kind="sqlite"
if [[ $# -gt 0 && "$1" != --* ]]; then
  kind="$1"
  shift
fi

echo "load before: $(uptime)"

# landpatrol, release build.
if [[ -z "${LP_NO_BUILD:-}" ]]; then
  (cd "$root" && cargo build --release --bin landpatrol)
fi
export LP_BIN="${LP_BIN:-$root/target/release/landpatrol}"   # LP_BIN names another binary
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  commit="$commit + uncommitted changes"
fi
export LP_VERSION="$("$LP_BIN" --version 2>/dev/null | head -n 1 || echo landpatrol), commit $commit"

# pouchdb-server, pinned, into a temporary folder.
lock_sum="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
pouch_dir="${LP_POUCHDB_DIR:-${TMPDIR:-/tmp}/landpatrol-pouchdb-${lock_sum:0:12}}"
mkdir -p "$pouch_dir"
cp "$here/package.json" "$here/package-lock.json" "$pouch_dir/"
# shellcheck source=../npm.sh
source "$here/../npm.sh"
npm_ci_once "$pouch_dir"
pouch_bin="$pouch_dir/node_modules/.bin/pouchdb-server"

run_dir="$(mktemp -d "${TMPDIR:-/tmp}/landpatrol-pouchdb-run.XXXXXX")"
pouch_pids=()
cleanup() {
  local pid i
  for pid in "${pouch_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  stop_server
  rm -rf "$run_dir"
}
# shellcheck source=../server.sh
source "$here/../server.sh"
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# start_pouch NAME [pouchdb-server options]: sets POUCH_URL once it answers.
start_pouch() {
  local name="$1" port dir i
  shift
  dir="$run_dir/$name"
  mkdir -p "$dir/db"
  # Logging off: no log lines on stdout (-n) and none in the log file (level none).
  printf '{"log":{"file":"%s","level":"none"}}\n' "$dir/log.txt" >"$dir/config.json"
  port="$(free_port)"
  (cd "$dir" && exec "$pouch_bin" --host 127.0.0.1 --port "$port" --dir "$dir/db" --config "$dir/config.json" \
    --no-stdout-logs --no-color "$@" >"$dir/stdout.log" 2>&1) &
  pouch_pids+=("$!")
  for i in $(seq 1 300); do
    if curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
      POUCH_URL="http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "pouchdb-server ($name) did not answer; its output:" >&2
  cat "$dir/stdout.log" >&2
  return 1
}

# Logging off on our side too (warnings only), and the minute sweep out of the measured window
# (as tests/src/lib.rs bench_app does); workers: one per core (the default).
export LANDPATROL__LOG__LEVEL=warn LANDPATROL__ALERTS__SWEEP_INTERVAL_SECS=3600
start_server "$kind"
start_pouch memory --in-memory
mem_url="$POUCH_URL"
start_pouch leveldb
ldb_url="$POUCH_URL"
echo "pouchdb-server in memory at $mem_url, on LevelDB at $ldb_url (files in $run_dir/leveldb/db)"

cd "$here"
LP_BASE_URL="$LP_BASE_URL" POUCH_MEMORY_URL="$mem_url" POUCH_LEVELDB_URL="$ldb_url" LP_DB_KIND="$kind" \
  node bench.js "$@"

echo "load after: $(uptime)"
