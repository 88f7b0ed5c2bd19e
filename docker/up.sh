#!/usr/bin/env bash
# The one command that brings up docker/compose.yml on a machine with only the Swift toolchain
# and the engine: it makes the engine answer (scripts/setup-docker.sh or setup-podman.sh, and
# podman-compose 1.6.0 for podman), builds the image compose cannot build itself (the wsscale
# binary comes from the host's Swift toolchain and the base image from debootstrap: no
# registry is reachable), then runs `compose up -d --build` (which builds redis and HAProxy).
# Taking it down is compose's own `down`; the secrets stay in the state folder (docker/state).
#
# Usage: docker/up.sh [more `up` options]
# env:   WSSCALE_ENGINE=docker|podman (default: docker/.env's, else docker);
#        WSSCALE_ENGINE_SOCKET (podman: /run/podman/podman.sock); COMPOSE (the compose command)
set -euo pipefail
cd "$(dirname "$0")"

env_value() { sed -n "s/^$1=//p" .env | tail -n 1; }
ENGINE="${WSSCALE_ENGINE:-$(env_value WSSCALE_ENGINE)}"
ENGINE="${ENGINE:-docker}"
IMAGE="${WSSCALE_IMAGE:-$(env_value WSSCALE_IMAGE)}"
IMAGE="${IMAGE:-wsscale:local}"

case "$ENGINE" in
  docker)
    ../scripts/setup-docker.sh >&2
    if [ -n "${COMPOSE:-}" ]; then read -r -a compose <<<"$COMPOSE"
    elif docker compose version >/dev/null 2>&1; then compose=(docker compose)
    else compose=(docker-compose); fi
    ;;
  podman)
    ../scripts/setup-podman.sh >&2
    if [ -n "${COMPOSE:-}" ]; then read -r -a compose <<<"$COMPOSE"
    else compose=("$(../scripts/setup-podman-compose.sh)"); fi
    export WSSCALE_ENGINE_SOCKET="${WSSCALE_ENGINE_SOCKET:-/run/podman/podman.sock}"
    ;;
  *)
    echo "docker/up.sh: WSSCALE_ENGINE must be docker or podman, got \"$ENGINE\"" >&2
    exit 2
    ;;
esac
export WSSCALE_ENGINE="$ENGINE"

# The state folder (secrets, HAProxy's runtime API socket), 0700 before any engine makes it 0755.
STATE_DIR="${WSSCALE_COMPOSE_STATE_DIR:-$(env_value WSSCALE_COMPOSE_STATE_DIR)}"
mkdir -p -m 0700 "${STATE_DIR:-./state}"

CONTAINER_ENGINE="$ENGINE" ./build-image.sh "$IMAGE" >&2
echo "==> ${compose[*]} up -d --build $*" >&2
exec "${compose[@]}" up -d --build "$@"
