# shellcheck shell=bash
# npm_ci_once DIR: `npm ci` in DIR once per lockfile (a second run, e.g. on the other
# database, reuses node_modules). To be sourced by the client suites' scripts.
npm_ci_once() {
  local dir="$1" lock_sum
  lock_sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ "$(cat "$dir/node_modules/.lp-lock-sha256" 2>/dev/null || true)" != "$lock_sum" ]]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" >"$dir/node_modules/.lp-lock-sha256"
  fi
}
