#!/usr/bin/env bash
# Makes Podman's REST API answer on this machine, for the Podman backend and its tests.
# - installs podman (4.3, libpod API v4), netavark + aardvark-dns (its network stack) and
#   catatonit (the init of `init: true` containers), iptables (netavark publishes ports with it:
#   without it every `podman run -p` fails with "netavark: No such file or directory"), runc (crun cannot run systemd as PID 1 on
#   this hybrid cgroup machine: the systemd backend's test host uses `--runtime runc`), and
#   debootstrap (the local base image)
#   when missing (apt, as root);
# - podman's default rlimits exceed this machine's hard limits (no CAP_SYS_RESOURCE), so every
#   start fails with `error setting rlimit type 7` unless ulimits are set: when no
#   containers.conf on the machine sets `default_ulimits` (and CONTAINERS_CONF names no file of
#   the user's), writes ours as a drop-in, /etc/containers/containers.conf.d/wsscale-ulimits.conf
#   (nofile and nproc at or below the hard limits); the driver sets them on create as well;
# - starts `podman system service --time 0 unix://$SOCKET` in the background when the socket
#   does not answer `GET /v4.0.0/libpod/_ping` (log: $WSSCALE_PODMAN_LOG, default
#   /var/log/wsscale-podman.log) and waits until it answers (at most ~30 s);
# - as root, lets frames bridged inside one podman network through the FORWARD chain (Docker's
#   policy DROP otherwise cuts podman's internal networks; see below).
# Exits non-zero with a message naming the cause when the API cannot be made to answer.
# Safe to run again: does nothing when the service already answers.
# env: WSSCALE_PODMAN_SOCKET (default /run/podman/podman.sock)
set -euo pipefail

SOCKET="${WSSCALE_PODMAN_SOCKET:-/run/podman/podman.sock}"
PODMAN_LOG="${WSSCALE_PODMAN_LOG:-/var/log/wsscale-podman.log}"
APT_PACKAGES=(podman netavark aardvark-dns catatonit runc iptables debootstrap)
DROP_IN=/etc/containers/containers.conf.d/wsscale-ulimits.conf

fail() { echo "setup-podman: $*" >&2; exit 1; }
answers() { curl -fsS --max-time 2 --unix-socket "$SOCKET" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; }

source "$(dirname "$0")/daemon-setup.sh"
install_missing_packages "${APT_PACKAGES[@]}"

# The rlimits: a file of ours, never an edit of the user's configuration.
if [ -z "${CONTAINERS_CONF:-}" ] \
   && ! grep -qs '^[[:space:]]*default_ulimits' /etc/containers/containers.conf /etc/containers/containers.conf.d/*.conf; then
  [ "$(id -u)" = 0 ] || fail "podman needs default_ulimits in a containers.conf (only root can write $DROP_IN)"
  hard_files="$(ulimit -Hn)"; [ "$hard_files" = unlimited ] && hard_files=1048576
  hard_procs="$(ulimit -Hu)"; [ "$hard_procs" = unlimited ] && hard_procs=4096
  files=$(( hard_files < 20000 ? hard_files : 20000 ))
  procs=$(( hard_procs < 4096 ? hard_procs : 4096 ))
  mkdir -p "$(dirname "$DROP_IN")"
  printf '# Written by wsscale scripts/setup-podman.sh: podman'"'"'s default rlimits exceed this\n# machine'"'"'s hard limits (every start fails with "error setting rlimit type 7").\n[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "$files" "$files" "$procs" "$procs" > "$DROP_IN"
  echo "==> wrote $DROP_IN (nofile=$files, nproc=$procs)"
fi

# The OCI runtime: crun refuses to start anything on a hybrid cgroup machine (v1 controllers,
# plus a cgroup2 mount at /sys/fs/cgroup/unified) while any controller sits on the v2 side
# ("crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2"). That is
# the case here whenever no v1 hierarchy has claimed hugetlb, which any container that mounts
# its own v1 hierarchies can change at any moment. runc runs either way. A file of ours again,
# written only when no containers.conf of the machine or the user chooses a runtime.
RUNTIME_DROP_IN=/etc/containers/containers.conf.d/wsscale-runtime.conf
restart_service=false
if [ -z "${CONTAINERS_CONF:-}" ] && [ ! -e "$RUNTIME_DROP_IN" ] \
   && [ "$(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] \
   && ! grep -qs '^[[:space:]]*runtime[[:space:]]*=' /etc/containers/containers.conf /etc/containers/containers.conf.d/*.conf; then
  [ "$(id -u)" = 0 ] || fail "on this hybrid cgroup machine podman needs runtime = \"runc\" in a containers.conf (only root can write $RUNTIME_DROP_IN)"
  install_missing_packages runc
  mkdir -p "$(dirname "$RUNTIME_DROP_IN")"
  printf '# Written by wsscale scripts/setup-podman.sh: crun cannot start containers on this hybrid\n# cgroup machine whenever a controller sits on the cgroup2 side; runc can.\n[engine]\nruntime = "runc"\n' > "$RUNTIME_DROP_IN"
  echo "==> wrote $RUNTIME_DROP_IN (runtime runc: hybrid cgroups)"
  restart_service=true
fi

# Containers on one of podman's internal networks (compose's control network: the balancer,
# Redis and the engine proxy) reach each other only through the host's FORWARD chain once
# br_netfilter is loaded, and netavark 1.4 writes no rule for internal networks. Where Docker
# runs too, the chain's policy is DROP, so the balancer's every connection to Redis or the
# engine proxy timed out. One rule lets a frame through that stays inside one podman bridge,
# nothing that is routed between networks or out of the host (Docker's own bridges are not
# named podman*). Checked first, so it is added once; root only, and a failure only says so.
bridged=(-i 'podman+' -o 'podman+' -m physdev --physdev-is-bridged -j ACCEPT)
if [ "$(id -u)" = 0 ] && command -v iptables >/dev/null 2>&1 && ! iptables -C FORWARD "${bridged[@]}" 2>/dev/null; then
  if iptables -I FORWARD "${bridged[@]}"; then
    echo "==> iptables: FORWARD accepts frames bridged inside one podman network (its internal networks, beside Docker's policy DROP)"
  else
    echo "setup-podman: could not add the FORWARD rule for podman's internal networks; with Docker on this host, compose's control network may not work" >&2
  fi
fi

if answers; then
  if $restart_service && pkill -f "podman system service .*unix://$SOCKET"; then
    echo "==> restarting podman system service to read $RUNTIME_DROP_IN"
    for _ in $(seq 1 20); do answers || break; sleep 0.25; done
  else
    exit 0
  fi
fi

command -v podman >/dev/null 2>&1 || fail "podman is not installed"
[ "$(id -u)" = 0 ] || fail "the podman service at $SOCKET is not answering and only root can start it here"

if [ -S "$SOCKET" ] && pgrep -f "podman system service .*$SOCKET" >/dev/null 2>&1; then
  echo "==> podman system service is starting on $SOCKET; waiting"
else
  echo "==> starting podman system service on unix://$SOCKET (log: $PODMAN_LOG)"
  mkdir -p "$(dirname "$SOCKET")"
  rm -f "$SOCKET"
  start_detached "$PODMAN_LOG" podman system service --time 0 "unix://$SOCKET"
fi

for _ in $(seq 1 60); do
  if answers; then
    echo "==> podman answers on $SOCKET ($(podman version --format '{{.Server.Version}} API {{.Server.APIVersion}}' 2>/dev/null || echo podman))"
    exit 0
  fi
  sleep 0.5
done
tail -n 20 "$PODMAN_LOG" >&2 2>/dev/null || true
fail "podman system service did not answer on $SOCKET within 30 s (see $PODMAN_LOG)"
