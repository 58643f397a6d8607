#!/usr/bin/env bash
# Makes the project-local Python environment the Python example runs in
# (examples/python/, checked by the tests through --exec): a virtual
# environment in target/python-venv with examples/python/requirements.txt
# installed from PyPI. Idempotent: it reinstalls only when the requirements
# changed. Prints the environment's python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/python-venv
req=examples/python/requirements.txt
python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "python-env: $python not found: install Python 3.9 or newer (or set PYTHON)" >&2
  exit 2
fi
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
  echo "python-env: installing $req into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$venv/requirements.txt"
fi
echo "$PWD/$venv/bin/python"
