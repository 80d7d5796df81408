#!/usr/bin/env bash
# Installs moto_server (PyPI moto[server], pinned in requirements.txt) into the
# repository's ignored tests/clients/s3/.venv, for the object-storage tests
# (tests/e2e/object_store.rs start it themselves). Does nothing when the pinned
# set is installed already. Needs Python 3.11 with venv and pip.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ -x "$venv/bin/moto_server" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  exit 0
fi
echo "== installing moto_server (pinned) into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$here/requirements.txt"
"$venv/bin/python" -c 'import moto, flask; print("moto", moto.__version__)'
echo "$want" >"$stamp"
