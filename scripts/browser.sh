#!/usr/bin/env bash
# Installs what the browser tests (tests/ui_e2e.rs) need and prints the
# environment they read. Sourced by scripts/test.
#   chromium         Debian's package (installed only when absent and we are root)
#   fonts-noto-cjk   so Japanese pages are drawn in screenshots, not as boxes (same rule)
#   playwright-core  drives it; from the npm registry into target/, once per pin
# Without chromium or node this prints nothing and the browser tests skip.
set -euo pipefail
chromium=/usr/bin/chromium
# A fresh machine may have no package lists yet: update once, then retry.
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2 \
        || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2; } \
        || true
}
if [ ! -x "$chromium" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt_install chromium
fi
if ! command -v fc-list >/dev/null || [ -z "$(fc-list :lang=ja 2>/dev/null)" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt_install fonts-noto-cjk fontconfig
    fi
fi
if [ ! -x "$chromium" ] || ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    exit 0
fi
dir="${CARGO_TARGET_DIR:-target}/ui-node"
pins="playwright-core@1.65.1"
if [ "$(cat "$dir/pins" 2>/dev/null)" != "$pins" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    npm install --prefix "$dir" --no-audit --no-fund --silent $pins >&2
    echo "$pins" > "$dir/pins"
fi
echo "export REXIST_CHROMIUM=$chromium"
echo "export REXIST_PLAYWRIGHT=$(cd "$dir" && pwd)"
