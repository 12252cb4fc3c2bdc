#!/usr/bin/env bash
# Runs one Python test directory in its own venv, shared by the protocol, chart and examples
# tests:  scripts/pytest-venv.sh VENV REQUIREMENTS TEST_DIR [pytest arguments...]
# Creates VENV with python3's venv module when missing, installs REQUIREMENTS only when they
# changed since the last install, then runs pytest quietly with its cache under target/.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$1
requirements=$2
tests=$3
shift 3

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.requirements.installed"
if ! cmp -s "$requirements" "$stamp"; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi
# tests/support holds what the suites share (processes.py).
export PYTHONPATH="$PWD/tests/support${PYTHONPATH:+:$PYTHONPATH}"
exec "$venv/bin/python" -m pytest -q -o cache_dir="target/$(basename "$tests")-pytest-cache" "$tests" "$@"
