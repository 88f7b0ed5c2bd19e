#!/usr/bin/env bash
# Builds the runtime image (default wsscale:local) from a wsscale binary built on the host.
# - makes the local base image first when the base is the default (docker/base-image.sh);
# - builds `swift build -c release --static-swift-stdlib --product wsscale` in its own scratch
#   directory (WSSCALE_SCRATCH_PATH, default .build-static: a clean build takes 2–5 min, an
#   incremental one seconds, and it never waits for a debug build or `swift test` using
#   .build), unless WSSCALE_BINARY names a binary to use;
# - the build context is a temporary directory holding only the (stripped) binary.
# - CONTAINER_ENGINE=podman builds into podman's storage instead (`podman import` of the same
#   base, `podman build` of the same Dockerfile; podman names it localhost/IMAGE).
# Usage: docker/build-image.sh [IMAGE]   env: BASE (default wsscale-base:bookworm), WSSCALE_BINARY,
#        WSSCALE_SCRATCH_PATH, CONTAINER_ENGINE (docker or podman, default docker)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${1:-wsscale:local}"
BASE="${BASE:-wsscale-base:bookworm}"
ENGINE="${CONTAINER_ENGINE:-docker}"
export CONTAINER_ENGINE="$ENGINE"

if [ "$BASE" = "wsscale-base:bookworm" ]; then
  docker/base-image.sh "$BASE"
fi

BINARY="${WSSCALE_BINARY:-}"
if [ -z "$BINARY" ]; then
  SCRATCH="${WSSCALE_SCRATCH_PATH:-.build-static}"
  echo "==> swift build -c release --static-swift-stdlib --product wsscale --scratch-path $SCRATCH"
  swift build -c release --static-swift-stdlib --product wsscale --scratch-path "$SCRATCH"
  BINARY="$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)/wsscale"
fi
[ -x "$BINARY" ] || { echo "build-image: no executable at $BINARY" >&2; exit 1; }

CONTEXT="$(mktemp -d /tmp/wsscale-image.XXXXXX)"
trap 'rm -rf "$CONTEXT"' EXIT
cp "$BINARY" "$CONTEXT/wsscale"
strip "$CONTEXT/wsscale" 2>/dev/null || true
cp docker/Dockerfile "$CONTEXT/Dockerfile"
echo "==> $ENGINE build -t $IMAGE (base $BASE, context $(du -sh "$CONTEXT" | cut -f1))"
"$ENGINE" build -q --build-arg BASE="$BASE" -t "$IMAGE" "$CONTEXT"
