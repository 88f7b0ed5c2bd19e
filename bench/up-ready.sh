# Sourced by the benches that start `wsscale up` in the background (run-scaling.sh,
# run-burst.sh): waits until its log ($1) says `ready`, at most 30 s; stops the bench when
# `up` (pid $2) exits first or never gets there, with the end of its log.
wait_until_up_ready() {
    local log=$1 pid=$2
    for _ in $(seq 1 300); do
        grep -q '^ready ' "$log" && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    echo "wsscale up not ready after 30 s" >&2
    tail -20 "$log" >&2
    exit 1
}
