#!/usr/bin/env bash
# Run every check CI runs: lint, types, import layering, the whole pytest suite (unit,
# storage on SQLite and PostgreSQL, API, real SIP clients), and the RFC 4475/5118 torture
# replay against a started server over UDP and TCP. Sets everything up itself.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for pkg in sip-tester baresip postgresql-client; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
RONGHE_EXTRAS=test,lint bash scripts/bootstrap.sh
bash scripts/services.sh

echo "== lint"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports

echo "== tests"
.venv/bin/pytest -q -p no:cacheprovider --cov --cov-report=term:skip-covered "$@"

echo "== torture replay (RFC 4475 / RFC 5118)"
bash scripts/torture.sh
