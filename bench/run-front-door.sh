#!/usr/bin/env bash
# The front door's cost, measured in one run with the example chat app (examples/chat/chat.py):
#
#   1. server RSS per idle connection: `wsscale server` relaying to the app it started
#      (APP_UPSTREAM_URL + `-- chat.py`; the server's own RSS, not the app's) vs the built-in
#      echo server (no APP_UPSTREAM_URL);
#   2. connections per second while opening COUNT connections (CONCURRENCY at a time):
#      through the front door vs straight to the same app started alone on its own port;
#   3. round-trip time p50/p99 of MESSAGES text messages sent one at a time (each waits for
#      its echo) on RTT_CONNECTIONS connection(s): through the front door vs the app alone
#      (and the built-in echo server, for reference).
#
# Every process listens on 127.0.0.1; the load generator (ConnectionBench) is a separate
# process; every process the script starts is stopped on exit. Prints a table at the end.
#
#   bench/run-front-door.sh
#   COUNT=5000 MESSAGES=5000 bench/run-front-door.sh
#   BUILD=0 bench/run-front-door.sh        # use the release binaries already built
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

COUNT=${COUNT:-2000}
MESSAGES=${MESSAGES:-2000}
CONCURRENCY=${CONCURRENCY:-64}
RTT_CONNECTIONS=${RTT_CONNECTIONS:-1}
RTT_BYTES=${RTT_BYTES:-32}
WARMUP=${WARMUP:-16}
PYTHON=${PYTHON:-/usr/bin/python3}
APP=${APP:-$ROOT/examples/chat/chat.py}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}   # seconds each ConnectionBench run may take
BUILD=${BUILD:-1}
LOG_DIR=$(mktemp -d /tmp/wsscale-bench-front-door.XXXXXX)

for value in "$COUNT" "$MESSAGES" "$CONCURRENCY" "$RTT_CONNECTIONS" "$RTT_BYTES" "$WARMUP" "$BENCH_TIMEOUT"; do
    [[ "$value" =~ ^[0-9]+$ ]] || { echo "COUNT, MESSAGES, CONCURRENCY, RTT_CONNECTIONS, RTT_BYTES, WARMUP and BENCH_TIMEOUT must be numbers" >&2; exit 2; }
done
(( COUNT > 0 && MESSAGES > 0 && CONCURRENCY > 0 )) || { echo "COUNT, MESSAGES and CONCURRENCY must be positive" >&2; exit 2; }

# The session list the bench polls needs the admin token: one for this run, in the environment
# of the servers and of the bench (never on a command line; the app does not get it).
export WSSCALE_ADMIN_TOKEN=${WSSCALE_ADMIN_TOKEN:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}

# One fd per connection in every process; the front door holds two per session (client + app).
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < 2 * COUNT + 200 )); then
    echo "open-file limit $(ulimit -n) is too low for COUNT=$COUNT (needs $((2 * COUNT + 200)))" >&2
    exit 1
fi

if [[ "$BUILD" != 0 ]]; then
    # One product per command: with several --product flags SwiftPM builds only the last.
    swift build -c release --product wsscale
    swift build -c release --product ConnectionBench
fi
BIN=$(swift build -c release --show-bin-path)
[[ -x "$BIN/wsscale" && -x "$BIN/ConnectionBench" ]] || { echo "no release binaries in $BIN" >&2; exit 1; }
[[ -x "$PYTHON" && -f "$APP" ]] || { echo "need $PYTHON and $APP" >&2; exit 1; }

# Processes this script started, stopped (by pid) on exit.
STARTED=()
stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do           # 10 s at most, then SIGKILL
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local index
    for (( index = ${#STARTED[@]} - 1; index >= 0; index-- )); do stop_pid "${STARTED[index]}"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits (30 s at most) until GET url answers 2xx while process pid lives.
wait_http() {
    local url=$1 pid=$2 log=$3
    for _ in $(seq 1 300); do
        if curl -fsS --max-time 1 "$url" >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "process $pid exited before $url answered; log $log:" >&2; tail -20 "$log" >&2; exit 1
        fi
        sleep 0.1
    done
    echo "$url did not answer within 30 s; log $log:" >&2; tail -20 "$log" >&2; exit 1
}

# Runs ConnectionBench (a separate process, bounded by BENCH_TIMEOUT) into a file and shows it.
run_bench() {
    local name=$1; shift
    local out=$LOG_DIR/$name.bench.txt
    timeout "$BENCH_TIMEOUT" "$BIN/ConnectionBench" --host 127.0.0.1 --count "$COUNT" --concurrency "$CONCURRENCY" \
        --warmup "$WARMUP" --rtt-messages "$MESSAGES" --rtt-connections "$RTT_CONNECTIONS" --rtt-bytes "$RTT_BYTES" \
        "$@" >"$out" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    local status=0
    wait "$pid" || status=$?
    sed 's/^/    /' "$out"
    if (( status != 0 )); then echo "ConnectionBench ($name) failed with status $status" >&2; exit 1; fi
    if ! grep -q "^upgraded (101): *$COUNT;" "$out"; then echo "ConnectionBench ($name): not all $COUNT connections upgraded" >&2; exit 1; fi
}

# A value from a ConnectionBench output: the first word after "label:".
field() {
    awk -v label="$2" 'index($0, label ":") == 1 { sub(/^[^:]*: */, ""); split($0, words, " "); print words[1]; exit }' "$LOG_DIR/$1.bench.txt"
}

# A server (`wsscale server`, extra environment and arguments as given) on a free port, started
# from an empty working directory (no stray .env); prints nothing, sets SERVER_PID/SERVER_PORT.
start_server() {
    local name=$1; shift
    SERVER_PORT=$(free_port)
    local log=$LOG_DIR/$name.server.log
    mkdir -p "$LOG_DIR/$name.cwd"
    (cd "$LOG_DIR/$name.cwd" && exec env -u CHAT_REDIS_URL HOST=127.0.0.1 SERVER_ID="ws-$name" SERVER_HOST=127.0.0.1 \
        SERVER_PORT="$SERVER_PORT" REDIS_URL=memory:// MAX_CONNECTIONS_PER_HOST=$((COUNT + WARMUP + 1000)) \
        "$@") >"$log" 2>&1 &
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
    wait_http "http://127.0.0.1:$SERVER_PORT/health" "$SERVER_PID" "$log"
}

echo "machine:  $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: COUNT=$COUNT CONCURRENCY=$CONCURRENCY MESSAGES=$MESSAGES RTT_CONNECTIONS=$RTT_CONNECTIONS RTT_BYTES=$RTT_BYTES WARMUP=$WARMUP"
echo "app:      $PYTHON $APP (websockets $("$PYTHON" -c 'import websockets; print(websockets.__version__)'))"
echo "logs:     $LOG_DIR"

# (1) The app alone, on its own port; clients connect to ws://127.0.0.1:APPPORT/ws/{userId}.
APP_PORT=$(free_port)
(cd "$LOG_DIR" && exec env -u CHAT_REDIS_URL -u WSSCALE_ADMIN_TOKEN HOST=127.0.0.1 PORT="$APP_PORT" "$PYTHON" "$APP") >"$LOG_DIR/app-alone.app.log" 2>&1 &
APP_PID=$!
STARTED+=("$APP_PID")
wait_http "http://127.0.0.1:$APP_PORT/health" "$APP_PID" "$LOG_DIR/app-alone.app.log"
echo
echo "== app alone: pid $APP_PID, ws://127.0.0.1:$APP_PORT/ws/{userId} (RSS below is the app's)"
run_bench app-alone --port "$APP_PORT" --path-template '/ws/{userId}' --no-registry --server-pid "$APP_PID" --cpu-pid "$APP_PID"
stop_pid "$APP_PID"

# (2) The front door: the server starts the app as its child and relays every session to it.
start_server front-door APP_UPSTREAM_URL='ws://127.0.0.1:{port}/ws/{userId}' APP_HEALTH_CHECK=/health \
    "$BIN/wsscale" server -- "$PYTHON" "$APP"
FRONT_PID=$SERVER_PID
CHILD_PID=$(pgrep -P "$FRONT_PID" | head -1 || true)
[[ -n "$CHILD_PID" ]] && STARTED+=("$CHILD_PID")   # stopped by the server; by us only if it is left over
echo
echo "== front door: wsscale server pid $FRONT_PID on 127.0.0.1:$SERVER_PORT, app pid ${CHILD_PID:-?} (RSS below is the server's only)"
run_bench front-door --port "$SERVER_PORT" --server-pid "$FRONT_PID" --cpu-pid "$FRONT_PID" ${CHILD_PID:+--cpu-pid "$CHILD_PID"}
stop_pid "$FRONT_PID"
[[ -n "$CHILD_PID" ]] && stop_pid "$CHILD_PID"

# (3) The built-in echo server (no APP_UPSTREAM_URL, no app).
start_server echo "$BIN/wsscale" server
ECHO_PID=$SERVER_PID
echo
echo "== built-in echo server: wsscale server pid $ECHO_PID on 127.0.0.1:$SERVER_PORT"
run_bench echo --port "$SERVER_PORT" --server-pid "$ECHO_PID" --cpu-pid "$ECHO_PID"
stop_pid "$ECHO_PID"

# The table.
RSS_FRONT=$(field front-door "server RSS per idle conn")
RSS_ECHO=$(field echo "server RSS per idle conn")
RSS_APP=$(field app-alone "server RSS per idle conn")
RATE_FRONT=$(field front-door "connections per second")
RATE_APP=$(field app-alone "connections per second")
RATE_ECHO=$(field echo "connections per second")
P50_FRONT=$(field front-door "round-trip p50"); P99_FRONT=$(field front-door "round-trip p99")
P50_APP=$(field app-alone "round-trip p50");    P99_APP=$(field app-alone "round-trip p99")
P50_ECHO=$(field echo "round-trip p50");        P99_ECHO=$(field echo "round-trip p99")
for value in "$RSS_FRONT" "$RSS_ECHO" "$RATE_FRONT" "$RATE_APP" "$P50_FRONT" "$P99_FRONT" "$P50_APP" "$P99_APP"; do
    [[ "$value" =~ ^-?[0-9.]+$ ]] || { echo "could not read every figure from $LOG_DIR/*.bench.txt" >&2; exit 1; }
done
# CPU seconds while opening, per pid ("pid 123 0.81 s, pid 124 0.83 s").
cpu_of() { grep '^CPU while opening:' "$LOG_DIR/$1.bench.txt" | grep -o "pid $2 [0-9.?]*" | awk '{print $3}'; }
CPU_FRONT="$(cpu_of front-door "$FRONT_PID") + ${CHILD_PID:+$(cpu_of front-door "$CHILD_PID")}"
CPU_APP="- + $(cpu_of app-alone "$APP_PID")"
CPU_ECHO="$(cpu_of echo "$ECHO_PID")"
MEM_RATIO=$(awk -v a="$RSS_FRONT" -v b="$RSS_ECHO" 'BEGIN { printf "%.2f", a / b }')
RATE_RATIO=$(awk -v a="$RATE_FRONT" -v b="$RATE_APP" 'BEGIN { printf "%.0f", 100 * a / b }')
MEM_OK=$(awk -v r="$MEM_RATIO" 'BEGIN { print (r <= 2 ? "met" : "MISSED") }')
RATE_OK=$(awk -v r="$RATE_RATIO" 'BEGIN { print (r >= 80 ? "met" : "MISSED") }')
delta() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f us (%.2fx) vs app alone", a - b, a / b }'; }

row() { printf '| %-42s | %-11s | %-11s | %-13s | %-44s |\n' "$@"; }
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
row "COUNT=$COUNT, MESSAGES=$MESSAGES, CONCURRENCY=$CONCURRENCY" "front door" "app alone" "built-in echo" "front door vs"
row "$(printf -- '-%.0s' {1..42})" "-----------" "-----------" "-------------" "$(printf -- '-%.0s' {1..44})"
row "server RSS per idle connection (bytes)" "$RSS_FRONT" "($RSS_APP)" "$RSS_ECHO" "${MEM_RATIO}x echo (target <= 2x: $MEM_OK)"
row "connections per second while opening" "$RATE_FRONT" "$RATE_APP" "$RATE_ECHO" "${RATE_RATIO} % of app alone (target >= 80 %: $RATE_OK)"
row "round trip p50 (us)" "$P50_FRONT" "$P50_APP" "$P50_ECHO" "$(delta "$P50_FRONT" "$P50_APP")"
row "round trip p99 (us)" "$P99_FRONT" "$P99_APP" "$P99_ECHO" "$(delta "$P99_FRONT" "$P99_APP")"
row "CPU s while opening (server + app)" "$CPU_FRONT" "$CPU_APP" "$CPU_ECHO" ""
echo "(app alone's RSS, in parentheses, is chat.py's own, for scale; the front door's counts the wsscale server"
echo " only, not the app it started. Raw outputs and logs: $LOG_DIR)"
