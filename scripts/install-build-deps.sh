#!/usr/bin/env bash
# Installs what the build needs beyond Rust: cmake and nasm, which build the vendored
# libjpeg-turbo (with its SIMD code) used for photo thumbnails. Debian/Ubuntu only;
# on other systems install cmake and nasm with the system's package manager.
set -euo pipefail
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v nasm >/dev/null 2>&1 || missing+=(nasm)
if [ ${#missing[@]} -eq 0 ]; then
  echo "cmake and nasm present"
  exit 0
fi
echo "installing: ${missing[*]}"
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
