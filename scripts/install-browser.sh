#!/usr/bin/env bash
# Installs what the browser tests need: Debian's chromium (driven by the
# playwright-core npm package with executablePath, since Playwright's own
# browser download is not available offline) and a CJK font, so screenshots
# show Chinese. Debian/Ubuntu only; elsewhere install Chromium and a CJK font
# with the system's package manager and set LP_CHROMIUM to the binary.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! fc-list 2>/dev/null | grep -qiE "wenquanyi|noto sans cjk"; then
  missing+=(fonts-wqy-zenhei)
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "chromium and a CJK font present"
  exit 0
fi
echo "installing: ${missing[*]}"
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
