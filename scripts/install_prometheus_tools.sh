#!/usr/bin/env bash
# Install promtool and amtool (Debian's `prometheus` and `prometheus-alertmanager` packages), which the
# Level 3 tests use to validate the Prometheus rules and the Alertmanager configuration.
#
# Idempotent and quiet: does nothing when both tools are already on PATH. Runs as root (CI containers)
# or through sudo when available. Only the command-line tools are wanted, so the packages' services are
# never started: a policy-rc.d that forbids starting services is put in place for the duration of the
# install (and removed afterwards), and no recommended packages are pulled in.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_prometheus_tools: apt-get not found; install promtool and amtool (Prometheus, Alertmanager) by hand." >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo -n)
else
  echo "install_prometheus_tools: run as root or install sudo." >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
created_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
  "${as_root[@]}" chmod 755 "$policy"
  created_policy=true
fi
cleanup() {
  if [ "$created_policy" = true ]; then
    "${as_root[@]}" rm -f "$policy"
  fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "install_prometheus_tools: apt-get failed (output above)." >&2
  exit 1
fi
rm -f "$log"

for tool in promtool amtool; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install_prometheus_tools: $tool is still not on PATH after installing the packages." >&2
    exit 1
  fi
done
