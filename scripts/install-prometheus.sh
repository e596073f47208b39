#!/usr/bin/env bash
# Installs Prometheus (server and promtool) from Debian for the test that runs the real
# dashboards and alert rules against the services (tests/integration/test_ops_prometheus.py).
# Idempotent: with /usr/bin/prometheus present it installs nothing.
#
# The test never uses the Debian service: it runs its own `prometheus` with its own
# configuration, data directory and free port. Whether the package's service starts (it
# does not inside a container with a policy-rc.d, nor without an init system) is irrelevant.
set -euo pipefail

PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}

if [ -x "$PROMETHEUS" ]; then
  "$PROMETHEUS" --version 2>&1 | head -n 1
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: prometheus — install Prometheus 2.x (server and promtool) on PATH" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing: prometheus — run as root: apt-get install -y prometheus" >&2
  exit 1
fi
echo "installing prometheus with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
# No recommends: the node exporter is not needed, only the server and promtool.
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends prometheus
"$PROMETHEUS" --version 2>&1 | head -n 1
