#!/usr/bin/env bash
# Makes the podman image `wsscale-systemd:bookworm` (localhost/…): a minimal Debian bookworm
# that boots systemd as PID 1 inside a privileged container, with what the systemd deployment
# needs already installed (dbus, polkit with libpam-systemd, redis-server, haproxy, the
# runtime libraries of the static wsscale binary, curl and procps for checks, Python's websockets
# and redis for the example app), so that
# `apt install ./wsscale_*.deb` inside it needs no network. The recipe is docker/base-image.sh
# (debootstrap from the machine's own Debian mirror, then `podman import`).
# Does nothing when the image exists (WSSCALE_BASE_REBUILD=1 forces). Needs root, debootstrap, podman.
# Usage: systemd/image.sh [IMAGE]   (default wsscale-systemd:bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="${1:-wsscale-systemd:bookworm}"
export CONTAINER_ENGINE=podman
export WSSCALE_BASE_COMMAND=/lib/systemd/systemd
export WSSCALE_BASE_PACKAGES="systemd,systemd-sysv,dbus,libpam-systemd,polkitd,redis-server,haproxy,libhiredis0.14,libcurl4,libsystemd0,ca-certificates,curl,procps,python3-websockets,python3-redis"
# An image made before the example app (examples/chat, Python) was part of the tests lacks its
# packages: make it again.
if podman image exists "$IMAGE" \
   && ! podman run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --entrypoint /usr/bin/test "$IMAGE" \
        -d /usr/lib/python3/dist-packages/websockets >/dev/null 2>&1; then
  echo "==> $IMAGE lacks python3-websockets: making it again"
  export WSSCALE_BASE_REBUILD=1
fi
exec docker/base-image.sh "$IMAGE"
