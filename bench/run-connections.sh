#!/usr/bin/env bash
# Opens COUNT idle WebSocket connections (default 10000) from a separate process to one
# `wsscale server` on 127.0.0.1 and prints: connections per second while opening, server RSS
# per idle connection, and the time until the registry lists them all.
#
#   bench/run-connections.sh                  # starts its own redis-server on a free loopback port
#   REDIS_URL=memory:// bench/run-connections.sh             # registry inside the server, no Redis
#   REDIS_URL=redis://127.0.0.1:6379/0 bench/run-connections.sh   # a Redis already running
#   COUNT=5000 CONCURRENCY=128 bench/run-connections.sh
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-10000}
CONCURRENCY=${CONCURRENCY:-256}
REDIS_URL=${REDIS_URL:-}
export REDIS_KEY_PREFIX=${REDIS_KEY_PREFIX:-wsscale-bench-$$}
REGISTRY_PATH=${REGISTRY_PATH:-/ws-session/all}
SERVER_ID=ws-bench
# The session list (REGISTRY_PATH) needs the admin token: one for this run, in the environment
# of the server and of the bench (never on a command line).
export WSSCALE_ADMIN_TOKEN=${WSSCALE_ADMIN_TOKEN:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}

# Each process needs an fd per connection: raise the soft limit to the hard one (20000 here).
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < COUNT + 100 )); then
    echo "open-file limit $(ulimit -n) is too low for COUNT=$COUNT" >&2
    exit 1
fi

swift build -c release --product wsscale
swift build -c release --product ConnectionBench
BIN=$(swift build -c release --show-bin-path)

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# The registry: our own redis-server on a free loopback port unless REDIS_URL names one.
REDIS_PID=
REDIS_PORT=
if [[ -z "$REDIS_URL" ]]; then
    REDIS_PORT=$(free_port)
    REDIS_LOG=$(mktemp /tmp/wsscale-bench-redis.XXXXXX.log)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
        >"$REDIS_LOG" 2>&1 &
    REDIS_PID=$!
    for _ in $(seq 1 100); do
        if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then break; fi
        sleep 0.05
    done
    REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
elif [[ "$REDIS_URL" =~ ^redis://127\.0\.0\.1:([0-9]+) ]]; then
    REDIS_PORT=${BASH_REMATCH[1]}
fi
export REDIS_URL

PORT=${PORT:-$(free_port)}
LOG=$(mktemp /tmp/wsscale-bench-server.XXXXXX.log)
SERVER_ID=$SERVER_ID SERVER_HOST=127.0.0.1 SERVER_PORT=$PORT \
    MAX_CONNECTIONS_PER_HOST=$((COUNT + 1000)) SHUTDOWN_GRACE_SECONDS=${SHUTDOWN_GRACE_SECONDS:-20} \
    "$BIN/wsscale" server >"$LOG" 2>&1 &
SERVER_PID=$!
stop_all() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" || true
    fi
    if [[ -n "$REDIS_PID" ]] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill -TERM "$REDIS_PID"
        wait "$REDIS_PID" || true
    fi
}
trap stop_all EXIT

for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "server exited; log:" >&2; cat "$LOG" >&2; exit 1
    fi
    sleep 0.1
done

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "server:  pid $SERVER_PID on 127.0.0.1:$PORT, REDIS_URL=$REDIS_URL, prefix $REDIS_KEY_PREFIX (log: $LOG)"
BENCH_ARGS=(--port "$PORT" --server-pid "$SERVER_PID" --count "$COUNT" --concurrency "$CONCURRENCY"
            --registry-path "$REGISTRY_PATH")
SESSIONS_KEY="$REDIS_KEY_PREFIX:host:$SERVER_ID:sessions"
if [[ -n "$REDIS_PORT" ]]; then
    # Read the registry where the balancer reads it: the host's session hash in Redis.
    BENCH_ARGS+=(--registry-redis-port "$REDIS_PORT" --registry-key "$SESSIONS_KEY")
fi

# The topology as the balancer sees it: live hosts and their session counts.
print_topology() {
    [[ -n "$REDIS_PORT" ]] || return 0
    local hosts
    hosts=$(redis-cli -p "$REDIS_PORT" zrangebyscore "$REDIS_KEY_PREFIX:hosts" "$(date +%s%3N)" +inf)
    for host in $hosts; do
        echo "registry topology:        $host $(redis-cli -p "$REDIS_PORT" hlen "$REDIS_KEY_PREFIX:host:$host:sessions") sessions" \
             "(redis used_memory $(redis-cli -p "$REDIS_PORT" info memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r'))"
    done
}

if [[ "${SHUTDOWN_CHECK:-0}" != 1 ]]; then
    OUT=$(mktemp /tmp/wsscale-bench-client.XXXXXX.log)
    "$BIN/ConnectionBench" "${BENCH_ARGS[@]}" --hold 1 | tee "$OUT" &
    BENCH_PID=$!
    until grep -q "^holding" "$OUT"; do
        kill -0 "$BENCH_PID" 2>/dev/null || break
        sleep 0.1
    done
    print_topology
    wait "$BENCH_PID"
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
if [[ -n "$REDIS_PORT" ]]; then
    echo "registry after SIGTERM:   $(redis-cli -p "$REDIS_PORT" hlen "$SESSIONS_KEY") records," \
         "host in $REDIS_KEY_PREFIX:hosts: $(redis-cli -p "$REDIS_PORT" zscore "$REDIS_KEY_PREFIX:hosts" "$SERVER_ID" | sed 's/^$/no/')"
fi
wait "$BENCH_PID"
