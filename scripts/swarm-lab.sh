#!/usr/bin/env bash
# A Docker Swarm of several nodes on this one machine, for trying wsscale's stack on more
# than one node without more than one host: each node is a dockerd in a network namespace of
# its own, with its own address on a bridge this script makes (no route out: nothing a node
# sends leaves the machine). Node 1 is the manager, the others are workers; swarm overlays
# run over VXLAN between the nodes' addresses, as between hosts.
#
#   scripts/swarm-lab.sh up [N] [IMAGE…]   N nodes (default 3), the images loaded into each
#                                          (default wsscale:local wsscale-redis:local
#                                          wsscale-haproxy:local, from this machine's dockerd)
#   scripts/swarm-lab.sh env               the manager's DOCKER_HOST and each node's address
#   scripts/swarm-lab.sh stop-node I       node I stops at once: its link goes down, then
#                                          its dockerd, containerd and containers are killed
#   scripts/swarm-lab.sh down              every node, namespace, address and file removed
#
# Then, for instance:
#   export $(scripts/swarm-lab.sh env | grep DOCKER_HOST)
#   WSSCALE_ENGINE_SOCKET=${DOCKER_HOST#unix://} docker/stack-up.sh
# (docker/stack-up.sh sees the swarm is active and deploys on it; the published ports are on
# the nodes' addresses, e.g. http://192.168.251.11:8488/api/topology for the balancer.)
#
# On real hosts none of this is needed: `docker swarm init` on one, `docker swarm join` on the
# others, the images on each (your registry, or `docker save | docker load`), then
# docker/stack-up.sh on the manager.
#
# env: WSSCALE_LAB (name prefix of the bridge, namespaces and folders, default wsslab);
#      WSSCALE_LAB_NET (the bridge's /24 as three octets, default 192.168.251: the host is .1,
#      node I is .(10+I)); WSSCALE_LAB_HEARTBEAT (the manager's dispatcher heartbeat, default
#      1s: a node that stops is marked down after a few of them).
# Needs root; installs iproute2, iptables and util-linux (nsenter) when missing, and makes
# this machine's dockerd answer (scripts/setup-docker.sh): the images come from it.
set -euo pipefail

fail() { echo "swarm-lab: $*" >&2; exit 1; }
source "$(dirname "$0")/daemon-setup.sh"

LAB="${WSSCALE_LAB:-wsslab}"
NET="${WSSCALE_LAB_NET:-192.168.251}"
HEARTBEAT="${WSSCALE_LAB_HEARTBEAT:-1s}"
RUN="/run/$LAB"
DATA="/var/lib/$LAB"
BRIDGE="${LAB}0"

node_address() { echo "$NET.$((10 + $1))"; }
node_socket() { echo "$RUN/n$1/docker.sock"; }
node_docker() { local node="$1"; shift; docker -H "unix://$(node_socket "$node")" "$@"; }
nodes() { ls -d "$RUN"/n* 2>/dev/null | sed 's|.*/n||' | sort -n; }

# The pids of node I's processes: its dockerd and containerd (in its namespace), and its
# containers (in its cgroup parent, each in a network namespace of its own).
node_pids() {
  local node="$1"
  ip netns pids "$LAB-n$node" 2>/dev/null || true
  grep -l ":/$LAB-n$node/" /proc/[0-9]*/cgroup 2>/dev/null | sed 's|/proc/\([0-9]*\)/cgroup|\1|' || true
}

start_node() {
  local node="$1" address
  address="$(node_address "$node")"
  mkdir -p "$RUN/n$node" "$DATA/n$node"
  ip netns add "$LAB-n$node"
  ip link add "$LAB-n${node}h" type veth peer name "$LAB-n${node}c"
  ip link set "$LAB-n${node}h" master "$BRIDGE" up
  ip link set "$LAB-n${node}c" netns "$LAB-n$node"
  ip -n "$LAB-n$node" link set "$LAB-n${node}c" name eth0
  ip -n "$LAB-n$node" addr add "$address/24" dev eth0
  ip -n "$LAB-n$node" link set eth0 up
  ip -n "$LAB-n$node" link set lo up
  # nsenter, not `ip netns exec`: that remounts /sys, and dockerd then finds no devices cgroup.
  start_detached "$RUN/n$node/dockerd.log" nsenter --net="/var/run/netns/$LAB-n$node" dockerd \
    --data-root "$DATA/n$node" --exec-root "$RUN/n$node/exec" --pidfile "$RUN/n$node/docker.pid" \
    -H "unix://$(node_socket "$node")" --cgroup-parent "/$LAB-n$node"
  for _ in $(seq 1 120); do
    node_docker "$node" info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "swarm-lab: node $node's dockerd did not answer in 60 s:" >&2
  tail -n 20 "$RUN/n$node/dockerd.log" >&2
  return 1
}

up() {
  local count="${1:-3}"
  shift || true
  local images=("$@")
  [ ${#images[@]} -gt 0 ] || images=(wsscale:local wsscale-redis:local wsscale-haproxy:local)
  [ -z "$(nodes)" ] || fail "already up ($RUN); run down first"
  [ "$(id -u)" = 0 ] || fail "needs root (network namespaces, a bridge, dockerd)"
  install_missing_packages iproute2 iptables util-linux
  "$(dirname "$0")/setup-docker.sh" >&2
  for image in "${images[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 || fail "no image $image in this machine's dockerd (docker/stack-up.sh builds the three)"
  done
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The host's dockerd drops forwarded packets (FORWARD policy DROP), bridged ones included
  # when br_netfilter is loaded: let the nodes talk to each other.
  iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  for node in $(seq 1 "$count"); do start_node "$node"; done

  node_docker 1 swarm init --advertise-addr "$(node_address 1)" --listen-addr "$(node_address 1):2377" \
    --dispatcher-heartbeat "$HEARTBEAT" >/dev/null
  local token
  token="$(node_docker 1 swarm join-token -q worker)"
  for node in $(seq 2 "$count"); do
    node_docker "$node" swarm join --token "$token" --advertise-addr "$(node_address "$node")" \
      --listen-addr "$(node_address "$node"):2377" "$(node_address 1):2377" >/dev/null
  done

  local archive="$RUN/images.tar"
  docker save -o "$archive" "${images[@]}"
  local pids=()
  for node in $(seq 1 "$count"); do
    node_docker "$node" load -q -i "$archive" >/dev/null & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  rm -f "$archive"
  env_lines
}

env_lines() {
  echo "DOCKER_HOST=unix://$(node_socket 1)"
  for node in $(nodes); do echo "NODE_${node}_ADDRESS=$(node_address "$node")"; done
}

stop_node() {
  local node="$1"
  [ -d "$RUN/n$node" ] || { echo "swarm-lab: no node $node" >&2; exit 1; }
  ip link set "$LAB-n${node}h" down
  node_pids "$node" | xargs -r kill -9 2>/dev/null || true
}

down() {
  for node in $(nodes); do
    node_pids "$node" | xargs -r kill -9 2>/dev/null || true
  done
  for node in $(nodes); do
    # The killed dockerd leaves its mounts (overlay2 layers, netns files, shm) behind.
    grep -e " $DATA/n$node" -e " $RUN/n$node" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    ip netns del "$LAB-n$node" 2>/dev/null || true
    ip link del "$LAB-n${node}h" 2>/dev/null || true
  done
  iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$RUN" "$DATA"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  env) env_lines ;;
  stop-node) stop_node "${2:?usage: swarm-lab.sh stop-node I}" ;;
  down) down ;;
  *) echo "usage: scripts/swarm-lab.sh up [N] [IMAGE…] | env | stop-node I | down" >&2; exit 2 ;;
esac
