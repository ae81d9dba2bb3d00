#!/usr/bin/env bash
# Install headless Chromium and its WebDriver (Debian's `chromium` and `chromium-driver` packages), which the
# browser tests use (tests/support/browser.py: the HTML report and the dashboard previews loaded in Chromium).
# Browsers that download a build of their own cannot work on the project's machines; Debian's can.
#
# Idempotent and quiet: does nothing when both /usr/bin/chromium and /usr/bin/chromedriver answer --version.
# Runs as root (CI containers) or through sudo when available; no recommended packages are pulled in, but a
# font is (fonts-dejavu-core), so text renders in screenshots.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 &&
  chromium --version >/dev/null 2>&1 && chromedriver --version >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: apt-get not found; install Chromium and ChromeDriver (chromium, chromium-driver) by hand." >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "install_chromium: run as root or install sudo." >&2
  exit 1
fi

log=$(mktemp)
if ! { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver fonts-dejavu-core; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "install_chromium: apt-get failed (output above)." >&2
  exit 1
fi
rm -f "$log"

for tool in chromium chromedriver; do
  if ! "$tool" --version >/dev/null 2>&1; then
    echo "install_chromium: $tool is still not usable after installing the packages." >&2
    exit 1
  fi
done
chromium --version
