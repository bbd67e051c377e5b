#!/usr/bin/env bash
# Installs the Python interop peers the tests run against into a virtualenv
# under target/, once per set of pinned versions, and prints the environment
# the tests read. Sourced by scripts/test.
#   medallion        the OASIS TAXII 2.1 server (the TAXII client's peer)
#   taxii2-client    the OASIS TAXII 2.1 client (the TAXII server's peer)
#   stix2-validator  the OASIS STIX 2.1 validator (every object rexist writes)
#   pymisp           MISP's Python library (loads the MISP feed export)
#   schemathesis     property-based tests of the REST API against its OpenAPI document
set -euo pipefail
venv="${CARGO_TARGET_DIR:-target}/peers-venv"
pins="medallion==3.0.0 taxii2-client==2.3.0 stix2-validator==3.3.2 pymisp==2.5.34.4 schemathesis==4.32.5"
if [ "$(cat "$venv/pins" 2>/dev/null)" != "$pins" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet --disable-pip-version-check $pins >&2
    echo "$pins" > "$venv/pins"
fi
bin="$(cd "$venv/bin" && pwd)"
echo "export REXIST_MEDALLION=$bin/medallion"
echo "export REXIST_PEERS_PYTHON=$bin/python"
echo "export REXIST_SCHEMATHESIS=$bin/schemathesis"
