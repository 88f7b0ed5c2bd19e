#!/usr/bin/env bash
# Opens COUNT idle WebSocket connections (default 10000) from a separate process to one
# `wsscale server` on 127.0.0.1 and prints: connections per second while opening, server RSS
# per idle connection, and the time until the registry lists them all.
#
#   bench/run-connections.sh                  # in-process registry (REDIS_URL=memory://)
#   REDIS_URL=redis://127.0.0.1:6379/0 bench/run-connections.sh
#   COUNT=5000 CONCURRENCY=128 bench/run-connections.sh
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-10000}
CONCURRENCY=${CONCURRENCY:-256}
export REDIS_URL=${REDIS_URL:-memory://}
REGISTRY_PATH=${REGISTRY_PATH:-/ws-session/all}

# Each process needs an fd per connection: raise the soft limit to the hard one (20000 here).
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < COUNT + 100 )); then
    echo "open-file limit $(ulimit -n) is too low for COUNT=$COUNT" >&2
    exit 1
fi

swift build -c release --product wsscale
swift build -c release --product ConnectionBench
BIN=$(swift build -c release --show-bin-path)

PORT=${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
LOG=$(mktemp /tmp/wsscale-bench-server.XXXXXX.log)
SERVER_ID=ws-bench SERVER_HOST=127.0.0.1 SERVER_PORT=$PORT \
    MAX_CONNECTIONS_PER_HOST=$((COUNT + 1000)) SHUTDOWN_GRACE_SECONDS=${SHUTDOWN_GRACE_SECONDS:-20} \
    "$BIN/wsscale" server >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" || true
    fi
}
trap stop_server EXIT

for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "server exited; log:" >&2; cat "$LOG" >&2; exit 1
    fi
    sleep 0.1
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "server:  pid $SERVER_PID on 127.0.0.1:$PORT, REDIS_URL=$REDIS_URL (log: $LOG)"
BENCH_ARGS=(--port "$PORT" --server-pid "$SERVER_PID" --count "$COUNT" --concurrency "$CONCURRENCY"
            --registry-path "$REGISTRY_PATH")
if [[ "${SHUTDOWN_CHECK:-0}" != 1 ]]; then
    "$BIN/ConnectionBench" "${BENCH_ARGS[@]}"
    exit 0
fi

# SHUTDOWN_CHECK=1: after measuring, SIGTERM the server while every connection is open and
# report how long it takes to close them all (1001) and exit.
OUT=$(mktemp /tmp/wsscale-bench-client.XXXXXX.log)
"$BIN/ConnectionBench" "${BENCH_ARGS[@]}" --hold 30 | tee "$OUT" &
BENCH_PID=$!
until grep -q "^holding" "$OUT"; do
    kill -0 "$BENCH_PID" 2>/dev/null || { echo "bench ended before holding" >&2; exit 1; }
    sleep 0.2
done
START=$(date +%s.%N)
kill -TERM "$SERVER_PID"
STATUS=0
wait "$SERVER_PID" || STATUS=$?
END=$(date +%s.%N)
echo "server after SIGTERM:     exit status $STATUS after $(echo "$END - $START" | bc) s"
wait "$BENCH_PID"
