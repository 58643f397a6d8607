#!/usr/bin/env bash
# Open an HTML report (leasecheck ... --report DIR writes DIR/index.html) in
# headless Chromium, save a screenshot of it as a PNG, and fail if the page
# logged anything to the console (an error, a failed load): the page is
# looked at in a real browser, as a person would.
#
#   scripts/screenshot.sh out/index.html shot.png            # 1200x1400
#   scripts/screenshot.sh out/index.html shot.png 1200x900
#
# Chromium is the Debian package `chromium` (scripts/setup.sh installs it).
# Exit 0 screenshot taken and nothing logged; 1 the page logged something
# (shown); 2 it could not be done (no browser, no page, no PNG).
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: scripts/screenshot.sh PAGE.html OUT.png [WIDTHxHEIGHT]" >&2
  exit 2
fi
page=$1
png=$2
size=${3:-1200x1400}
if [[ ! $size =~ ^[0-9]+x[0-9]+$ ]]; then
  echo "screenshot: the size must be WIDTHxHEIGHT (e.g. 1200x900), not '$size'" >&2
  exit 2
fi
if [[ ! -f $page ]]; then
  echo "screenshot: no page at $page" >&2
  exit 2
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
  echo "screenshot: Chromium is not installed (scripts/setup.sh installs the Debian package chromium)" >&2
  exit 2
fi

profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
url="file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
mkdir -p "$(dirname "$png")"
rm -f "$png"
# --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
if ! timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --no-first-run --user-data-dir="$profile" --enable-logging=stderr --v=0 \
  --window-size="${size/x/,}" --screenshot="$png" "$url" >"$log" 2>&1; then
  cat "$log" >&2
  echo "screenshot: Chromium failed on $url" >&2
  exit 2
fi
if [[ ! -s $png ]]; then
  cat "$log" >&2
  echo "screenshot: Chromium wrote no screenshot of $url" >&2
  exit 2
fi
# What the page said to the console, and resources it could not load.
if grep -E 'CONSOLE[:(]|net::ERR_' "$log" >&2; then
  echo "screenshot: the page logged the lines above" >&2
  exit 1
fi
echo "screenshot: $png ($size) of $url"
