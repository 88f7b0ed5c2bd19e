#!/usr/bin/env bash
# A burst of users at production scale against `wsscale up` (release build, process backend)
# on free loopback ports: USERS users (6,000) asked to connect at once through the client
# simulator, with CONNECTION_LIMIT_PER_HOST=500, MAX_CONNECTIONS_PER_HOST=1000 and
# MAX_INSTANCES=20, every other knob at its default.
#
#   bench/run-burst.sh                  # 6,000 users
#   USERS=9000 bench/run-burst.sh       # about as far as one HAProxy goes on this machine
#   ROUNDS=3 bench/run-burst.sh         # three bursts, each from an idle pool of its own
#
# A real burst comes from many devices, each with its own connection and address: the client
# simulator may have every attempt in flight at once (CLIENT_CONNECT_CONCURRENCY, 64 by
# default, is raised to 10,000), and the per-address limits of the traffic port are raised,
# since all users come from 127.0.0.1 here. Prints, per round, the time until all
# are connected, until the pool is balanced, the highest count any server reached, the forced
# moves against the fewest the landing needed, and the users lost.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/up-ready.sh
ulimit -n "$(ulimit -Hn)"
USERS=${USERS:-6000}

swift build -c release --product wsscale
swift build -c release --product BurstBench
BIN=$(swift build -c release --show-bin-path)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export CONNECTION_LIMIT_PER_HOST=500 MAX_CONNECTIONS_PER_HOST=1000 MAX_INSTANCES=20
export WSSCALE_ADMIN_TOKEN=${WSSCALE_ADMIN_TOKEN:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}

for round in $(seq 1 "${ROUNDS:-1}"); do
    STATE=$(mktemp -d /tmp/wsscale-bench-burst.XXXXXX)
    CLIENT_PORT=$(free_port); BALANCER_PORT=$(free_port)
    : > "$STATE/up.log"
    env -u REDIS_URL -u HAPROXY_RUNTIME_API -u CLIENT_TARGET_URL -u DASHBOARD_BALANCER_URL -u DASHBOARD_CLIENT_URL \
        LB_HOST=127.0.0.1 LB_PORT="$(free_port)" LB_STATS_PORT="$(free_port)" UP_REDIS_PORT="$(free_port)" \
        BALANCER_HOST=127.0.0.1 BALANCER_PORT="$BALANCER_PORT" CLIENT_HOST=127.0.0.1 CLIENT_PORT="$CLIENT_PORT" \
        DASHBOARD_HOST=127.0.0.1 DASHBOARD_PORT="$(free_port)" \
        LB_MAX_CONNECTIONS_PER_SOURCE=100000 LB_MAX_NEW_CONNECTIONS_PER_SOURCE=100000 CLIENT_CONNECT_CONCURRENCY=10000 \
        WSSCALE_STATE_DIR="$STATE" WSSCALE_BACKEND=process \
        "$BIN/wsscale" up >"$STATE/up.log" 2>&1 &
    UP_PID=$!
    stop_stack() {
        if kill -0 "$UP_PID" 2>/dev/null; then
            kill -TERM "$UP_PID"
            wait "$UP_PID" || true
        fi
        cp "$STATE/up.log" "${BURST_LOG:-/tmp/wsscale-bench-burst-up.log}" 2>/dev/null || true
        rm -rf "$STATE"
    }
    trap stop_stack EXIT
    wait_until_up_ready "$STATE/up.log" "$UP_PID"

    echo "round $round: $USERS users at once"
    status=0
    "$BIN/BurstBench" --client-port "$CLIENT_PORT" --balancer-port "$BALANCER_PORT" --users "$USERS" || status=$?
    stop_stack
    trap - EXIT
    [ "$status" = 0 ] || { echo "round $round did not complete (exit $status)" >&2; exit "$status"; }
done
