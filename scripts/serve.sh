#!/usr/bin/env bash
# Run Ronghe on the embedded default: SQLite file ./ronghe.db, SIP on UDP and TCP 5060,
# admin API on 127.0.0.1:8000, a demo county plan on first start. Extra arguments go to
# `ronghe serve` (see `.venv/bin/ronghe serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/ronghe serve "$@"
