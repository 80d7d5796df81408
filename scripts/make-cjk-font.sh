#!/usr/bin/env bash
# Makes server/web/console/cjk.woff2: the Chinese characters the console, the tip page and the
# printable progress report print themselves (their words, the town names, the report's
# labels), cut from Noto Sans CJK SC (SIL Open Font License 1.1), so those pages read in
# Chinese on a machine with no Chinese font at all. Text from the data (case descriptions) is
# left to the machine's fonts. Rerun after changing the pages' words; the result is committed.
#
# Needs Debian's apt (for the font package), python3 with venv. Nothing is installed globally.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download fonts-noto-cjk >/dev/null 2>&1
dpkg-deb -x fonts-noto-cjk_*.deb pkg
python3 -m venv venv
venv/bin/pip install --quiet --disable-pip-version-check fonttools==4.68.0 brotli==1.2.1
venv/bin/python - "$root" <<'PY'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
sources = [*root.glob("server/web/console/*.js"), *root.glob("server/web/console/*.html"),
           *root.glob("server/web/report/*.js"), *root.glob("server/web/report/*.html"),
           root / "server/src/reports/render.rs", root / "server/src/demo.rs",
           *root.glob("server/demo/geo/*.geojson")]
chars = set()
for f in sources:
    chars.update(c for c in f.read_text(encoding="utf-8") if re.match(r"[\u3000-\u303f\u3300-\u33ff\u3400-\u9fff\uff00-\uffef]", c))
pathlib.Path("chars.txt").write_text("".join(sorted(chars)), encoding="utf-8")
# Kept beside the font: a test checks the pages print no character the font lacks.
(root / "server/web/console/cjk.chars.txt").write_text("".join(sorted(chars)) + "\n", encoding="utf-8")
print(f"{len(chars)} characters from {len(sources)} files")
PY
# Noto Sans CJK's collection holds JP, KR, SC, TC, HK: face 2 is Simplified Chinese.
venv/bin/pyftsubset pkg/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc --font-number=2 \
  --text-file=chars.txt --flavor=woff2 --layout-features='*' \
  --output-file="$root/server/web/console/cjk.woff2"
ls -l "$root/server/web/console/cjk.woff2"
