# shellcheck shell=bash
# A landpatrol server for client tests, to be sourced (it runs nothing by itself):
#
#   source tests/clients/server.sh
#   trap stop_server EXIT        # no server is left running, whatever happens
#   start_server sqlite          # or: start_server postgres
#   curl "$LP_BASE_URL/readyz"
#   stop_server
#
# start_server builds nothing: run `cargo build --locked --bin landpatrol` first
# (LP_BIN names another binary). It starts `landpatrol serve --demo` (demo
# towns, cases and users, password `landpatrol-demo`; Open311 api_key
# `landpatrol-demo-key`) on a free loopback port, in a fresh temporary data
# directory, on a fresh SQLite file or a fresh PostgreSQL database (created
# with psql on LP_PG_HOST:LP_PG_PORT as LP_PG_USER, default
# 127.0.0.1:5432 postgres; dropped again by stop_server), waits for /readyz and
# exports:
#
#   LP_BASE_URL   http://127.0.0.1:<port>
#   LP_PID        the server's process id
#   LP_DATA_DIR   its data directory (SQLite file, photos, server.log)
#   LP_DB_KIND    sqlite or postgres
#
# Webhook deliveries go through a proxy on a closed loopback port
# (webhooks.proxy), so whatever URL a test registers, the server never sends a
# request off this machine.
# Extra settings can be passed as LANDPATROL__SECTION__KEY variables.

LP_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LP_BIN="${LP_BIN:-$LP_REPO_ROOT/target/debug/landpatrol}"
LP_PG_HOST="${LP_PG_HOST:-127.0.0.1}"
LP_PG_PORT="${LP_PG_PORT:-5432}"
LP_PG_USER="${LP_PG_USER:-postgres}"
LP_PG_DB=""

_lp_psql() {
  psql -h "$LP_PG_HOST" -p "$LP_PG_PORT" -U "$LP_PG_USER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

# start_server sqlite|postgres
start_server() {
  local kind="${1:-sqlite}" url
  if [[ -n "${LP_PID:-}" ]]; then
    echo "start_server: a server is already running (pid $LP_PID)" >&2
    return 1
  fi
  if [[ ! -x "$LP_BIN" ]]; then
    echo "start_server: $LP_BIN is missing; run cargo build --locked --bin landpatrol first" >&2
    return 1
  fi
  LP_DATA_DIR="$(mktemp -d "${TMPDIR:-/tmp}/landpatrol-client.XXXXXX")"
  case "$kind" in
    sqlite)
      url="sqlite://$LP_DATA_DIR/landpatrol.db?mode=rwc"
      ;;
    postgres)
      LP_PG_DB="lp_client_$(date +%s)_$$_$RANDOM"
      if ! _lp_psql -c "CREATE DATABASE $LP_PG_DB"; then
        echo "start_server: could not create database $LP_PG_DB on $LP_PG_HOST:$LP_PG_PORT" >&2
        LP_PG_DB=""
        rm -rf "$LP_DATA_DIR"
        return 1
      fi
      url="postgres://$LP_PG_USER@$LP_PG_HOST:$LP_PG_PORT/$LP_PG_DB"
      ;;
    *)
      echo "start_server: sqlite or postgres, not '$kind'" >&2
      rm -rf "$LP_DATA_DIR"
      return 1
      ;;
  esac
  LP_DB_KIND="$kind"
  export LP_DATA_DIR LP_DB_KIND

  LANDPATROL__DATABASE__URL="$url" \
    HTTP_PROXY="http://127.0.0.1:9" HTTPS_PROXY="http://127.0.0.1:9" ALL_PROXY="http://127.0.0.1:9" \
    http_proxy="http://127.0.0.1:9" https_proxy="http://127.0.0.1:9" all_proxy="http://127.0.0.1:9" \
    NO_PROXY="" no_proxy="" LANDPATROL__WEBHOOKS__PROXY="http://127.0.0.1:9" \
    "$LP_BIN" --data-dir "$LP_DATA_DIR" serve --demo --addr 127.0.0.1:0 >"$LP_DATA_DIR/server.log" 2>&1 &
  LP_PID=$!
  export LP_PID

  # The port is in the line it prints once it listens; then /readyz must answer.
  local port="" i
  for i in $(seq 1 600); do
    port="$(sed -n 's|.*landpatrol listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$LP_DATA_DIR/server.log" | head -n 1)"
    [[ -n "$port" ]] && break
    if ! kill -0 "$LP_PID" 2>/dev/null; then
      echo "start_server: the server exited before listening; its log:" >&2
      cat "$LP_DATA_DIR/server.log" >&2
      stop_server
      return 1
    fi
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    echo "start_server: no listening address after 60 s; its log:" >&2
    cat "$LP_DATA_DIR/server.log" >&2
    stop_server
    return 1
  fi
  LP_BASE_URL="http://127.0.0.1:$port"
  export LP_BASE_URL
  for i in $(seq 1 300); do
    if curl -fsS -o /dev/null --max-time 2 "$LP_BASE_URL/readyz"; then
      echo "server ($kind) ready at $LP_BASE_URL, pid $LP_PID, data $LP_DATA_DIR"
      return 0
    fi
    sleep 0.1
  done
  echo "start_server: $LP_BASE_URL/readyz did not answer; the log:" >&2
  cat "$LP_DATA_DIR/server.log" >&2
  stop_server
  return 1
}

# stop_server: stops the server, drops its database, removes its data directory.
# Safe to call more than once (and from a trap).
stop_server() {
  if [[ -n "${LP_PID:-}" ]]; then
    if kill -0 "$LP_PID" 2>/dev/null; then
      kill -TERM "$LP_PID" 2>/dev/null || true
      local i
      for i in $(seq 1 100); do
        kill -0 "$LP_PID" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$LP_PID" 2>/dev/null || true
    fi
    wait "$LP_PID" 2>/dev/null || true
  fi
  if [[ -n "${LP_PG_DB:-}" ]]; then
    _lp_psql -c "DROP DATABASE IF EXISTS $LP_PG_DB WITH (FORCE)" || echo "stop_server: could not drop $LP_PG_DB" >&2
  fi
  if [[ -n "${LP_DATA_DIR:-}" && -d "$LP_DATA_DIR" ]]; then
    if [[ -n "${LP_KEEP_LOG:-}" && -f "$LP_DATA_DIR/server.log" ]]; then
      cp "$LP_DATA_DIR/server.log" "$LP_KEEP_LOG" || true
    fi
    rm -rf "$LP_DATA_DIR"
  fi
  LP_PID="" LP_PG_DB="" LP_DATA_DIR="" LP_BASE_URL="" LP_DB_KIND=""
  return 0
}
