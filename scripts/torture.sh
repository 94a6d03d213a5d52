#!/usr/bin/env bash
# Replay the RFC 4475/5118 torture corpus (../shared/conformance/torture, kept outside this
# repository) against a freshly started server, over UDP and over TCP.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${RONGHE_TORTURE_DIR:-../shared/conformance/torture}
if [ ! -f "$corpus/run.py" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "torture corpus not found at $corpus" >&2
        exit 1
    fi
    echo "torture corpus not found at $corpus: replay not run (set RONGHE_TORTURE_DIR)"
    exit 0
fi
work=$(mktemp -d)
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for transport in udp tcp; do
    rm -f "$work"/ronghe.db*
    .venv/bin/ronghe serve --sip-host 127.0.0.1 --sip-port "$port" --api-port 0 \
        --database-url "sqlite:///$work/ronghe.db" --secret-file "$work/secret" \
        --domain ronghe.test --no-demo --log-level warning >"$work/server-$transport.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do grep -q '^READY' "$work/server-$transport.log" && break; sleep 0.1; done
    flag=""; [ "$transport" = tcp ] && flag="--tcp"
    status=0
    python3 "$corpus/run.py" 127.0.0.1 "$port" $flag || status=$?
    kill -TERM "$server"; wait "$server" || true
    if grep -q Traceback "$work/server-$transport.log"; then
        cat "$work/server-$transport.log" >&2
        status=1
    fi
    [ $status -eq 0 ] || { echo "torture replay over $transport failed" >&2; exit $status; }
done
rm -rf "$work"
