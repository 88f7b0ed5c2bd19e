#!/usr/bin/env bash
# Stops the compose stack of docker/compose.yml and leaves no container behind.
#
# The servers are launched by the balancer, not by compose, so `down` alone does not know
# them (and cannot remove the network they are attached to). Decision: the balancer leaves
# its servers running when it stops (a restarted balancer adopts them, users keep their
# connections), and stopping the whole stack removes them by their pool label:
#   1. stop the balancer (so it launches no replacement),
#   2. remove every container labelled wsscale.pool=<pool>,
#   3. `down` (compose's own containers and the network), with any arguments given here.
# Compose: `docker compose` (v2) when it exists, else `docker-compose` (v1); COMPOSE overrides.
# Usage: docker/down.sh [down options, e.g. --rmi local]
set -euo pipefail
cd "$(dirname "$0")"

if [ -n "${COMPOSE:-}" ]; then
  read -r -a compose <<<"$COMPOSE"
elif docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi
env_value() { sed -n "s/^$1=//p" .env | tail -n 1; }
POOL="${WSSCALE_POOL:-$(env_value WSSCALE_POOL)}"
POOL="${POOL:-wsscale}"

"${compose[@]}" stop balancer >/dev/null 2>&1 || true
ids="$(docker ps -aq --filter "label=wsscale.pool=$POOL")"
if [ -n "$ids" ]; then
  echo "==> removing the pool's servers (label wsscale.pool=$POOL): $(echo $ids | wc -w)"
  docker rm -f $ids >/dev/null
fi
"${compose[@]}" down "$@"
