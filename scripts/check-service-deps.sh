#!/usr/bin/env bash
# Installs each service, and the agency client, alone (its own dependencies, from the lock
# file, nothing else) into a fresh environment and imports every one of its modules. One
# that imports a package it does not declare fails here, not on the first machine that
# installs it alone.
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
# distribution:top-level package
for member in phananh-intake:intake phananh-routing:routing phananh-notify:notify \
  phananh-audit:audit phananh-agency:phananh_agency; do
  distribution="${member%%:*}"
  package="${member#*:}"
  env="$work/$package"
  echo "== $distribution, installed alone"
  UV_PROJECT_ENVIRONMENT="$env" uv sync --frozen --quiet --no-dev --package "$distribution"
  if ! "$env/bin/python" - "$package" <<'PY'
import importlib
import pkgutil
import sys

name = sys.argv[1]
package = importlib.import_module(name)
failed = []
for module in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
    try:
        importlib.import_module(module.name)
    except ImportError as error:
        failed.append(f"{module.name}: {error}")
if failed:
    print("\n".join(failed))
    sys.exit(1)
print(f"{name}: every module imports")
PY
  then
    status=1
  fi
done
exit $status
