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
free_port() {
    .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One transport: start a server on its own port and database, replay, stop, check its log.
replay() {
    local transport=$1 port dir server flag="" status=0
    port=$(free_port)
    dir="$work/$transport"
    mkdir -p "$dir"
    .venv/bin/ronghe serve --sip-host 127.0.0.1 --sip-port "$port" --api-port 0 \
        --database-url "sqlite:///$dir/ronghe.db" --secret-file "$dir/secret" \
        --domain ronghe.test --no-demo --log-level warning >"$dir/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do grep -q '^READY' "$dir/server.log" && break; sleep 0.1; done
    [ "$transport" = tcp ] && flag="--tcp"
    python3 "$corpus/run.py" 127.0.0.1 "$port" $flag >"$dir/replay.log" 2>&1 || status=$?
    kill -TERM "$server"; wait "$server" || true
    if grep -q Traceback "$dir/server.log"; then
        cat "$dir/server.log" >&2
        status=1
    fi
    return $status
}

# The replay mostly waits (the harness pauses before reusing a transaction key), so the
# two transports run side by side, each against its own server.
failed=0
report() {  # wait for one transport's replay and print what it printed
    local transport=$1 job=$2 status=0
    wait "$job" || status=$?
    echo "== torture replay over $transport"
    cat "$work/$transport/replay.log"
    if [ $status -ne 0 ]; then
        echo "torture replay over $transport failed" >&2
        failed=$status
    fi
}
replay udp & udp_job=$!
replay tcp & tcp_job=$!
report udp "$udp_job"
report tcp "$tcp_job"
rm -rf "$work"
exit $failed
