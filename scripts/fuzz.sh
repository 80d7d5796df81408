#!/usr/bin/env bash
# Fuzzes the photo path and the sync push parser with libFuzzer (cargo-fuzz), each target
# for a bounded time, and fails on any crash, panic, leak, timeout or allocation beyond the
# photo crate's decode budget.
#
#   scripts/fuzz.sh [seconds per target, default 60] [target …]
#
# Targets (fuzz/fuzz_targets/): photo_analyze, sync_push. Environment:
#   FUZZ_SANITIZER  address (default) or none (faster, catches panics and limits only)
#   FUZZ_JOBS       parallel libFuzzer jobs per target (default 1)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=65536"
#
# Only the stable toolchain is needed: cargo-fuzz passes nightly flags (-Zsanitizer=address
# and friends) to rustc, which stable accepts with RUSTC_BOOTSTRAP=1, and the stable
# x86_64-linux toolchain ships the ASan runtime. Build: `cargo fuzz build -O -a` (release,
# with debug assertions and overflow checks), in fuzz/target/, never part of the workspace.
#
# Corpora start from the committed fixtures (copied into the ignored fuzz/corpus/ at each
# run) and grow there between runs. An input that fails is copied to the crate's
# tests/fixtures/fuzz-regressions/, whose every file a regular test runs (commit the
# minimised input once it is fixed: `cargo fuzz tmin -O -a TARGET FILE`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(photo_analyze sync_push)
sanitizer=${FUZZ_SANITIZER:-address}
jobs=${FUZZ_JOBS:-1}

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

# The decode budget: Limits::default().max_decode_bytes, written "N * 1024 * 1024".
budget_mb=$(sed -n 's/.*max_decode_bytes: \([0-9][0-9]*\) \* 1024 \* 1024.*/\1/p' photo/src/lib.rs | head -n 1)
if [ -z "$budget_mb" ]; then
    echo "fuzz.sh: can not read max_decode_bytes from photo/src/lib.rs" >&2
    exit 2
fi
# No single allocation may pass the budget (the decoder's output buffer is the largest one);
# the whole process may hold a few times it: the decoded image and its RGB copy, libjpeg's
# own buffers, thumbnails, and with ASan its shadow memory and quarantine.
malloc_limit_mb=$budget_mb
rss_limit_mb=$((budget_mb * 4))
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64:detect_leaks=1}"

seed() {
    local target=$1 dir=fuzz/corpus/$1
    mkdir -p "$dir"
    case $target in
        photo_analyze)
            find photo/tests/fixtures -type f ! -name '*.md' ! -name '*.tsv' -print0 |
                xargs -0 -I{} sh -c 'cp "$1" "$2/seed-$(sha1sum < "$1" | cut -c1-16)"' _ {} "$dir"
            ;;
        sync_push)
            find sync-protocol/tests/fixtures/v1 -name 'push_request*.json' -print0 |
                xargs -0 -I{} sh -c 'cp "$1" "$2/seed-$(sha1sum < "$1" | cut -c1-16)"' _ {} "$dir"
            find sync-protocol/tests/fixtures/fuzz-regressions -type f ! -name '*.md' -print0 |
                xargs -0 -r -I{} sh -c 'cp "$1" "$2/seed-$(sha1sum < "$1" | cut -c1-16)"' _ {} "$dir"
            ;;
    esac
}

regressions_of() {
    case $1 in
        photo_*) echo photo/tests/fixtures/fuzz-regressions ;;
        sync_*) echo sync-protocol/tests/fixtures/fuzz-regressions ;;
    esac
}

dict() {
    if [ -f "fuzz/dicts/$1.dict" ]; then echo "-dict=fuzz/dicts/$1.dict"; fi
}

echo "fuzz.sh: building (sanitizer $sanitizer)" >&2
for target in "${targets[@]}"; do
    cargo fuzz build -O -a -s "$sanitizer" "$target"
done

failed=0
for target in "${targets[@]}"; do
    seed "$target"
    artifacts=fuzz/artifacts/$target
    mkdir -p "$artifacts"
    log=fuzz/artifacts/$target.log
    read -r -a extra <<<"${FUZZ_ARGS:-}"
    d=$(dict "$target" || true)
    if [ -n "$d" ]; then extra+=("$d"); fi
    # With -jobs, libFuzzer writes each job's output to fuzz-N.log in the current folder.
    if [ "$jobs" -gt 1 ]; then extra+=("-jobs=$jobs" "-workers=$jobs"); fi
    echo "fuzz.sh: $target for ${seconds}s (malloc limit ${malloc_limit_mb} MiB, rss limit ${rss_limit_mb} MiB)" >&2
    set +e
    cargo fuzz run -O -a -s "$sanitizer" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 \
        -malloc_limit_mb="$malloc_limit_mb" -rss_limit_mb="$rss_limit_mb" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "${extra[@]}" 2>&1 | tee "$log" |
        grep -E --line-buffered '^(#[0-9]+[[:space:]]+(INITED|DONE|pulse)|==[0-9]+==|SUMMARY|stat::|Done|.*panicked)' 
    status=${PIPESTATUS[0]}
    set -e
    for f in fuzz-[0-9]*.log; do
        if [ -f "$f" ]; then mv "$f" "$artifacts/$f"; fi
    done
    found=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'slow-unit-*' \) | sort)
    if [ "$status" -ne 0 ] || [ -n "$found" ]; then
        failed=1
        keep=$(regressions_of "$target")
        mkdir -p "$keep"
        for f in $found; do
            cp "$f" "$keep/"
            echo "fuzz.sh: $target: $(basename "$f") kept in $keep/ (log: $log)" >&2
        done
        echo "fuzz.sh: $target FAILED (exit $status)" >&2
    else
        echo "fuzz.sh: $target ok" >&2
    fi
done
exit "$failed"
