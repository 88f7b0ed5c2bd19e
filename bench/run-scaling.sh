#!/usr/bin/env bash
# Scale-out reaction and Swiss-cheese settle time, side by side in one run, against
# `wsscale up` (release build) on free loopback ports with the seed's knobs.
#
#   bench/run-scaling.sh              # 5 rounds of each
#   ROUNDS=9 bench/run-scaling.sh
#
# REBALANCE_MAX_MOVES_PER_SECOND keeps its default; SCALE_IN_STABILIZATION_SECONDS is 2 s so
# the pool shrinks back to one server quickly between rounds (it plays no part in the figures).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/up-ready.sh
ulimit -n "$(ulimit -Hn)"

swift build -c release --product wsscale
swift build -c release --product ScalingBench
BIN=$(swift build -c release --show-bin-path)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
STATE=$(mktemp -d /tmp/wsscale-bench-scaling.XXXXXX)
CLIENT_PORT=$(free_port); BALANCER_PORT=$(free_port)

# The client simulator's API needs the admin token: one for this run, in the environment of
# `up` and of the bench (never on a command line).
export WSSCALE_ADMIN_TOKEN=${WSSCALE_ADMIN_TOKEN:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}
env -u REDIS_URL -u HAPROXY_RUNTIME_API -u CLIENT_TARGET_URL -u DASHBOARD_BALANCER_URL -u DASHBOARD_CLIENT_URL \
    LB_HOST=127.0.0.1 LB_PORT="$(free_port)" LB_STATS_PORT="$(free_port)" UP_REDIS_PORT="$(free_port)" \
    BALANCER_HOST=127.0.0.1 BALANCER_PORT="$BALANCER_PORT" CLIENT_HOST=127.0.0.1 CLIENT_PORT="$CLIENT_PORT" \
    DASHBOARD_HOST=127.0.0.1 DASHBOARD_PORT="$(free_port)" \
    WSSCALE_STATE_DIR="$STATE" WSSCALE_BACKEND=process \
    CONNECTION_LIMIT_PER_HOST=10 MAX_CONNECTIONS_PER_HOST=30 \
    MAX_UTILIZATION_PERCENT=70 MIN_UTILIZATION_PERCENT=40 \
    OVERUTILIZED_TOLERANCE_PERCENT=10 UNDERUTILIZED_TOLERANCE_PERCENT=10 \
    MIN_INSTANCES=1 SCALE_IN_STABILIZATION_SECONDS=2 STOP_GRACE_SECONDS=2 \
    "$BIN/wsscale" up >"$STATE/up.log" 2>&1 &
UP_PID=$!
stop_stack() {
    if kill -0 "$UP_PID" 2>/dev/null; then
        kill -TERM "$UP_PID"
        wait "$UP_PID" || true
    fi
    rm -rf "$STATE"
}
trap stop_stack EXIT

wait_until_up_ready "$STATE/up.log" "$UP_PID"

"$BIN/ScalingBench" --client-port "$CLIENT_PORT" --balancer-port "$BALANCER_PORT" --rounds "${ROUNDS:-5}"
