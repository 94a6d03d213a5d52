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

# The torture replay mostly waits (see torture.sh), so it runs beside pytest, whose
# first minutes are the API tests (tests/api), which want one core and no SIP timing.
# It runs in its own process group, so that stopping this script stops it and the
# servers it started; what it printed follows the tests.
torture_log=$(mktemp)
setsid bash scripts/torture.sh >"$torture_log" 2>&1 &
torture_job=$!
trap 'kill -- -"$torture_job" 2>/dev/null || true; rm -f "$torture_log"' EXIT

echo "== tests (the torture replay runs beside them)"
tests_status=0
.venv/bin/pytest -q -p no:cacheprovider --cov --cov-report=term:skip-covered "$@" || tests_status=$?

torture_status=0
wait "$torture_job" || torture_status=$?
trap - EXIT
echo "== torture replay (RFC 4475 / RFC 5118)"
cat "$torture_log"
rm -f "$torture_log"
[ "$torture_status" -eq 0 ] || echo "the torture replay failed" >&2
[ "$tests_status" -eq 0 ] || echo "the tests failed" >&2
exit $((tests_status != 0 || torture_status != 0))
