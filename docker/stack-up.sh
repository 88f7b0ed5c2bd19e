#!/usr/bin/env bash
# The one command that deploys docker/stack.yml on a machine with only the Swift toolchain and
# Docker: it makes dockerd answer (scripts/setup-docker.sh), makes this dockerd a single-node
# swarm manager when it is in no swarm yet, builds the three images (`docker stack deploy`
# builds nothing), makes the secrets once in the state folder (`wsscale secrets`, the same
# files as docker/compose.yml's), then runs `docker stack deploy -c docker/stack.yml <stack>`.
# Taking it down is `docker stack rm <stack>`: the servers go with it; the secrets stay in the
# state folder.
#
# Usage: docker/stack-up.sh [more `docker stack deploy` options]
# env:   WSSCALE_STACK (the stack's name, default wsscale); WSSCALE_STACK_STATE_DIR (default
#        docker/state); WSSCALE_SWARM_ADVERTISE_ADDR (the address `docker swarm init`
#        advertises when this dockerd is in no swarm, default 127.0.0.1: a swarm of this host
#        alone); WSSCALE_ADMIN_TOKEN (the admin token the first time, else one is made);
#        WSSCALE_IMAGE (default wsscale:local); the knobs docker/stack.yml reads.
# Several nodes: run this on a manager after `docker swarm join` of the others, and put the
# three images on every node first (your registry, or `docker save | docker load`).
set -euo pipefail
cd "$(dirname "$0")"

STACK="${WSSCALE_STACK:-wsscale}"
IMAGE="${WSSCALE_IMAGE:-wsscale:local}"
STATE_DIR="${WSSCALE_STACK_STATE_DIR:-./state}"
export WSSCALE_STACK_STATE_DIR="$STATE_DIR"

../scripts/setup-docker.sh >&2
case "$(docker info --format '{{.Swarm.LocalNodeState}}')" in
  active) ;;
  inactive)
    echo "==> docker swarm init --advertise-addr ${WSSCALE_SWARM_ADVERTISE_ADDR:-127.0.0.1}" >&2
    docker swarm init --advertise-addr "${WSSCALE_SWARM_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null
    ;;
  *)
    echo "docker/stack-up.sh: this dockerd's swarm state is \"$(docker info --format '{{.Swarm.LocalNodeState}}')\"; wait for it to be active or inactive" >&2
    exit 1
    ;;
esac
if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != "true" ]; then
  echo "docker/stack-up.sh: this dockerd is a swarm worker; run it on a manager" >&2
  exit 1
fi

./build-image.sh "$IMAGE" >&2
echo "==> docker build -t wsscale-redis:local redis; docker build -t wsscale-haproxy:local haproxy" >&2
docker build -q -t wsscale-redis:local redis >/dev/null
docker build -q -t wsscale-haproxy:local haproxy >/dev/null

# The secrets: made once (0700 folder, files 0600 owned by nobody), kept after.
mkdir -p -m 0700 "$STATE_DIR"
STATE_PATH="$(cd "$STATE_DIR" && pwd)"
echo "==> wsscale secrets --state-dir $STATE_PATH" >&2
docker run --rm --network none --user 0:0 -v "$STATE_PATH:/state" -e WSSCALE_ADMIN_TOKEN -e REDIS_KEY_PREFIX \
  "$IMAGE" secrets --state-dir /state --redis-host redis --owner 65534:65534 >&2

echo "==> docker stack deploy -c docker/stack.yml $STACK $*" >&2
docker stack deploy -c stack.yml "$@" "$STACK"
