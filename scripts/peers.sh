#!/usr/bin/env bash
# Installs the Python interop peers the tests run against (the OASIS TAXII
# server medallion) into a virtualenv under target/, once, and prints the
# environment the tests read. Sourced by scripts/test.
set -euo pipefail
venv="${CARGO_TARGET_DIR:-target}/peers-venv"
if [ ! -x "$venv/bin/medallion" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "medallion==3.0.0"
fi
echo "export REXIST_MEDALLION=$(cd "$venv/bin" && pwd)/medallion"
