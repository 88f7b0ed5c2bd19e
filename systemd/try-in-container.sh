#!/usr/bin/env bash
# The systemd deployment without a systemd host: a privileged podman container that boots
# systemd (image localhost/wsscale-systemd:bookworm, made by systemd/image.sh when missing),
# with systemd/install.sh run inside it and wsscale.target started.
#
#   systemd/try-in-container.sh up      boot, install, start; returns once the balancer, the client
#                                       simulator and the dashboard answer /health
#   systemd/try-in-container.sh down    remove the container (and with it everything it held)
#
# Published on 127.0.0.1 only: 8000 (traffic), 8404 (HAProxy stats), 8488 (balancer),
# 8089 (client simulator), 8489 (dashboard). Inside the container those five listeners bind
# 0.0.0.0 (published ports arrive on the container's interface): drop-ins this script writes
# in the container's /etc/systemd/system, not the host defaults, which stay 127.0.0.1.
#
# env: WSSCALE_TRY_NAME (container, default wsscale-try); host ports WSSCALE_TRY_TRAFFIC_PORT,
#      WSSCALE_TRY_STATS_PORT, WSSCALE_TRY_BALANCER_PORT, WSSCALE_TRY_CLIENT_PORT,
#      WSSCALE_TRY_DASHBOARD_PORT (defaults: the same numbers as inside);
#      WSSCALE_DEB (the package; else systemd/build-deb.sh makes it, taking WSSCALE_BINARY);
#      WSSCALE_TRY_ENV_FILE (NAME=value lines for the balancer and the client, e.g. knobs);
#      WSSCALE_TRY_IMAGE (default localhost/wsscale-systemd:bookworm);
#      WSSCALE_TRY_WAIT=health (default: return once the balancer, client and dashboard answer /health) or started
#      (return once wsscale.target is started: checks of the deployment alone, e.g. with a
#      binary that has no systemd backend).
# Needs root and podman (scripts/setup-podman.sh installs it, with runc: crun cannot boot
# systemd with --systemd=always on hybrid cgroup hosts).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
NAME="${WSSCALE_TRY_NAME:-wsscale-try}"
IMAGE="${WSSCALE_TRY_IMAGE:-localhost/wsscale-systemd:bookworm}"
TRAFFIC="${WSSCALE_TRY_TRAFFIC_PORT:-8000}"
STATS="${WSSCALE_TRY_STATS_PORT:-8404}"
BALANCER="${WSSCALE_TRY_BALANCER_PORT:-8488}"
CLIENT="${WSSCALE_TRY_CLIENT_PORT:-8089}"
DASHBOARD="${WSSCALE_TRY_DASHBOARD_PORT:-8489}"

fail() { echo "try-in-container: $*" >&2; exit 1; }
inside() { podman exec "$NAME" "$@"; }

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds.
wait_for() {
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
system_up() { case "$(inside systemctl is-system-running 2>/dev/null)" in running|degraded) return 0 ;; *) return 1 ;; esac; }

down() {
  if podman container exists "$NAME" 2>/dev/null; then
    podman rm -f -v -t 10 "$NAME" >/dev/null
    echo "==> removed the container $NAME"
  else
    echo "==> no container $NAME"
  fi
}

up() {
  [ "$(id -u)" = 0 ] || fail "run it as root (the container must be privileged)"
  command -v podman >/dev/null 2>&1 || fail "podman is not installed (scripts/setup-podman.sh)"
  podman container exists "$NAME" && fail "a container $NAME exists; run '$0 down' first"
  if ! podman image exists "$IMAGE"; then
    [ "$IMAGE" = localhost/wsscale-systemd:bookworm ] || fail "no image $IMAGE"
    echo "==> making the image $IMAGE (systemd/image.sh)"
    "$HERE/image.sh" wsscale-systemd:bookworm
  fi
  local deb="${WSSCALE_DEB:-}"
  if [ -z "$deb" ]; then
    echo "==> building the package (systemd/build-deb.sh)"
    deb="$("$HERE/build-deb.sh" "$REPO/.build-deb" | tail -n 1)"
  fi
  [ -f "$deb" ] || fail "no package at $deb"
  deb="$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"

  echo "==> podman run $NAME (127.0.0.1: traffic $TRAFFIC, stats $STATS, balancer $BALANCER, client $CLIENT, dashboard $DASHBOARD)"
  podman run -d --name "$NAME" --hostname "$NAME" --runtime runc --privileged --systemd=always \
    --ulimit nofile=20000:20000 --ulimit nproc=4096:4096 \
    -p "127.0.0.1:$TRAFFIC:8000" -p "127.0.0.1:$STATS:8404" -p "127.0.0.1:$BALANCER:8488" \
    -p "127.0.0.1:$CLIENT:8089" -p "127.0.0.1:$DASHBOARD:8489" \
    -v "$REPO/systemd:/opt/wsscale-systemd:ro" -v "$deb:/opt/$(basename "$deb"):ro" \
    "$IMAGE" /lib/systemd/systemd >/dev/null
  if ! wait_for "systemd" 120 system_up; then
    inside systemctl --failed --no-pager >&2 || true
    fail "systemd in $NAME did not reach running/degraded within 120 s"
  fi

  echo "==> systemd/install.sh inside $NAME"
  inside /opt/wsscale-systemd/install.sh --deb "/opt/$(basename "$deb")"

  echo "==> drop-ins for the container: the five listeners on 0.0.0.0 inside it"
  local env_line=""
  if [ -n "${WSSCALE_TRY_ENV_FILE:-}" ]; then
    # Outside /etc/wsscale: it belongs to the container, not to the package.
    inside mkdir -p /etc/wsscale-try
    podman cp "$WSSCALE_TRY_ENV_FILE" "$NAME:/etc/wsscale-try/try-in-container.env"
    env_line="EnvironmentFile=/etc/wsscale-try/try-in-container.env"
  fi
  # Published ports arrive from podman's bridge (10.88.0.0/16 by default), not from loopback.
  inside sh -ec "
    mkdir -p /etc/systemd/system/haproxy.service.d /etc/systemd/system/wsscale-balancer.service.d \
             /etc/systemd/system/wsscale-client.service.d /etc/systemd/system/wsscale-dashboard.service.d
    printf '[Service]\nEnvironment=WSSCALE_HAPROXY_ADDRESS=0.0.0.0 WSSCALE_HAPROXY_STATS_ADDRESS=0.0.0.0\n' > /etc/systemd/system/haproxy.service.d/zz-try-in-container.conf
    printf '[Service]\nEnvironment=BALANCER_HOST=0.0.0.0\nIPAddressAllow=10.0.0.0/8 172.16.0.0/12 192.168.0.0/16\n$env_line\n' > /etc/systemd/system/wsscale-balancer.service.d/zz-try-in-container.conf
    printf '[Service]\nEnvironment=CLIENT_HOST=0.0.0.0\n$env_line\n' > /etc/systemd/system/wsscale-client.service.d/zz-try-in-container.conf
    printf '[Service]\nEnvironment=DASHBOARD_HOST=0.0.0.0\n' > /etc/systemd/system/wsscale-dashboard.service.d/zz-try-in-container.conf
    systemctl daemon-reload
    systemctl restart haproxy.service
    systemctl start wsscale.target"

  if [ "${WSSCALE_TRY_WAIT:-health}" = started ]; then
    echo "==> wsscale.target started in $NAME (not waiting for the balancer: WSSCALE_TRY_WAIT=started)"
    return 0
  fi
  local part port
  for part in balancer:$BALANCER client:$CLIENT dashboard:$DASHBOARD; do
    port="${part#*:}"; part="${part%%:*}"
    echo "==> waiting for the $part's /health on 127.0.0.1:$port"
    if ! wait_for "the $part" 120 curl -fsS --max-time 2 "http://127.0.0.1:$port/health"; then
      inside systemctl status --no-pager "wsscale-$part.service" >&2 || true
      inside journalctl --no-pager -n 40 -u "wsscale-$part.service" >&2 || true
      fail "the $part did not answer /health within 120 s"
    fi
  done
  cat <<READY
==> ready: wsscale.target runs in the container $NAME
    traffic   ws://127.0.0.1:$TRAFFIC/api/v1/websocket/{userId}   stats http://127.0.0.1:$STATS/
    balancer  http://127.0.0.1:$BALANCER/api/topology
    client    http://127.0.0.1:$CLIENT/route/status
    dashboard http://127.0.0.1:$DASHBOARD/
    inside:   podman exec -it $NAME systemctl status 'wsscale*'      stop: $0 down
READY
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
