#!/usr/bin/env bash
# Installs the headless browser the web pages' tests drive: Debian's chromium at
# /usr/bin/chromium. Playwright's Python package (a dev dependency) launches it through
# executable_path; no browser build is ever downloaded (never `playwright install`).
# Idempotent: prints what it does, and does nothing when chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: $CHROMIUM — install Debian's chromium package (the browser tests need it)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing: $CHROMIUM — run as root: apt-get install -y chromium" >&2
  exit 1
fi

echo "installing chromium with apt-get (for the web pages' browser tests)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
echo "chromium installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
