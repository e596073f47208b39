#!/usr/bin/env bash
# Installs what the project needs on a fresh machine and checks the rest.
# Idempotent: a second run installs nothing.
set -euo pipefail

UV_VERSION=0.13.8

if ! command -v uv >/dev/null 2>&1 || [ "$(uv --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  echo "installing uv $UV_VERSION from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
uv --version

missing=0
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "missing: $1 — $2" >&2
    missing=1
  fi
}
need java "Java 17+ runs the local Kafka broker (Debian: apt-get install openjdk-17-jre-headless)"
need mvn "Maven fetches Kafka from Maven Central (Debian: apt-get install maven)"
if ! command -v mongod >/dev/null 2>&1; then
  need go "Go 1.24+ builds FerretDB, the local MongoDB-wire database (or put a mongod on PATH)"
fi
if [ "$missing" -ne 0 ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing the missing tools with apt-get"
  apt-get update -qq
  command -v java >/dev/null 2>&1 || apt-get install -y -qq openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || apt-get install -y -qq maven
  missing=0
  # Debian's golang-go is older than the Go 1.24 FerretDB needs: no automatic install.
  if ! command -v go >/dev/null 2>&1 && ! command -v mongod >/dev/null 2>&1; then
    echo "install Go 1.24+ from https://go.dev/dl (or put a mongod on PATH)" >&2
    missing=1
  fi
fi
# The browser the web pages' tests drive, and the Prometheus the dashboards are tested on.
"$(dirname "$0")/install-browser.sh" || missing=1
"$(dirname "$0")/install-prometheus.sh" || missing=1
exit "$missing"
