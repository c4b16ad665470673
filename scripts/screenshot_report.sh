#!/usr/bin/env bash
# Screenshot a run report in headless Chromium (Debian's `chromium` package):
#   scripts/screenshot_report.sh OUTPUT_DIR_OR_REPORT_HTML [PNG] [WIDTHxHEIGHT]
# Default PNG: docs/report_screenshot.png. The page is self-contained, so no network is needed.
set -euo pipefail
target=${1:?usage: $0 OUTPUT_DIR_OR_REPORT_HTML [PNG] [WIDTHxHEIGHT]}
png=${2:-docs/report_screenshot.png}
size=${3:-1200x2400}
[ -d "$target" ] && target="$target/report.html"
[ -f "$target" ] || { echo "no report at $target" >&2; exit 2; }
browser=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$browser" ] || { echo "chromium not found (apt-get install -y chromium)" >&2; exit 2; }
mkdir -p "$(dirname "$png")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --window-size="${size/x/,}" --screenshot="$(realpath -m "$png")" "file://$(realpath "$target")" >/dev/null 2>&1
[ -s "$png" ] || { echo "chromium wrote no screenshot" >&2; exit 1; }
echo "$png"
