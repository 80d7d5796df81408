#!/usr/bin/env bash
# Prints a PATH holding every program of the current PATH except build systems and
# assemblers (cmake, nasm, yasm, ninja, meson): a folder of symbolic links, first match
# winning as in PATH. CI runs the Rust build and tests with it, to show that they need
# nothing but Rust and a C compiler.
#
#   PATH="$(scripts/path-without-build-tools.sh)" cargo build
set -euo pipefail
dir=$(mktemp -d "${TMPDIR:-/tmp}/landpatrol-rust-only-path.XXXXXX")
IFS=: read -r -a entries <<<"$PATH"
for entry in "${entries[@]}"; do
  [ -d "$entry" ] || continue
  for program in "$entry"/*; do
    name=${program##*/}
    case "$name" in
      cmake | cmake3 | ctest | cpack | nasm | ndisasm | yasm | ninja | meson) continue ;;
    esac
    if [ -x "$program" ] && [ ! -d "$program" ] && [ ! -e "$dir/$name" ]; then
      ln -s "$program" "$dir/$name"
    fi
  done
done
echo "$dir"
