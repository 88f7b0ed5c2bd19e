#!/usr/bin/env bash
# Builds the example chat's app image (default wsscale-chat:local) from examples/chat/Dockerfile,
# on top of the wsscale image (docker/build-image.sh makes it) and the local Debian base.
# Usage: examples/chat/build-image.sh [IMAGE]   env: CONTAINER_ENGINE (docker or podman),
#        WSSCALE_IMAGE (default wsscale:local, localhost/wsscale:local for podman), BASE
set -euo pipefail
cd "$(dirname "$0")"
ENGINE="${CONTAINER_ENGINE:-docker}"
IMAGE="${1:-wsscale-chat:local}"
if [ "$ENGINE" = podman ]; then
  WSSCALE_IMAGE="${WSSCALE_IMAGE:-localhost/wsscale:local}"
  BASE="${BASE:-localhost/wsscale-base:bookworm}"
else
  WSSCALE_IMAGE="${WSSCALE_IMAGE:-wsscale:local}"
  BASE="${BASE:-wsscale-base:bookworm}"
fi
"$ENGINE" image inspect "$WSSCALE_IMAGE" >/dev/null 2>&1 \
  || { echo "build-image: $WSSCALE_IMAGE is missing (CONTAINER_ENGINE=$ENGINE docker/build-image.sh makes it)" >&2; exit 1; }
CONTEXT="$(mktemp -d /tmp/wsscale-chat-image.XXXXXX)"
trap 'rm -rf "$CONTEXT"' EXIT
cp Dockerfile chat.py "$CONTEXT/"
echo "==> $ENGINE build -t $IMAGE (from $WSSCALE_IMAGE on $BASE)"
"$ENGINE" build -q --build-arg WSSCALE_IMAGE="$WSSCALE_IMAGE" --build-arg BASE="$BASE" -t "$IMAGE" "$CONTEXT"
