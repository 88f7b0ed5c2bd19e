#!/usr/bin/env bash
# Makes the local base image `wsscale-base:bookworm` without a registry: debootstraps a
# minimal Debian bookworm with the runtime libraries of a `swift build --static-swift-stdlib`
# binary (libhiredis0.14, libcurl4, libsystemd0, ca-certificates) plus busybox (health
# checks in compose, the tiny HTTP responder of the tests), drops the apt lists, and
# `docker import`s it (`podman import` with CONTAINER_ENGINE=podman: the same tarball).
# Does nothing when the image exists (WSSCALE_BASE_REBUILD=1 forces). The Debian mirror is the
# machine's own (scripts/debian-mirror.sh; WSSCALE_DEBIAN_MIRROR overrides it).
# Needs root, debootstrap and a running dockerd (scripts/setup-docker.sh does both), or podman.
# Usage: docker/base-image.sh [IMAGE]   (default wsscale-base:bookworm)
#        env: CONTAINER_ENGINE (docker or podman, default docker); WSSCALE_BASE_PACKAGES (the
#        comma-separated --include list) and WSSCALE_BASE_COMMAND (the image's CMD), for
#        other images from the same recipe (systemd/image.sh)
set -euo pipefail

IMAGE="${1:-wsscale-base:bookworm}"
ENGINE="${CONTAINER_ENGINE:-docker}"
source "$(dirname "$0")/../scripts/debian-mirror.sh"
MIRROR="$(debian_mirror)"
PACKAGES="${WSSCALE_BASE_PACKAGES:-libhiredis0.14,libcurl4,libsystemd0,ca-certificates,busybox}"
COMMAND="${WSSCALE_BASE_COMMAND:-/bin/sh}"

if [ "${WSSCALE_BASE_REBUILD:-0}" != 1 ] && "$ENGINE" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "==> $IMAGE exists"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "base-image: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "base-image: debootstrap missing (scripts/setup-docker.sh installs it)" >&2; exit 1; }

ROOT="$(mktemp -d /tmp/wsscale-rootfs.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
# mktemp makes it 0700, and the tarball's "./" carries that mode into the image's "/": an
# engine that keeps it (rootless podman's vfs) then lets no one but root into the image, and
# every `USER nobody` container fails with "stat /usr/local/bin/wsscale: permission denied".
chmod 0755 "$ROOT"
echo "==> debootstrap bookworm (minbase + $PACKAGES) into $ROOT"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 \
  || { tail -n 20 "$ROOT.log" >&2; rm -f "$ROOT.log"; echo "base-image: debootstrap failed" >&2; exit 1; }
rm -f "$ROOT.log"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb
echo "==> $ENGINE import $IMAGE"
tar -C "$ROOT" -c . | "$ENGINE" import --change "CMD [\"$COMMAND\"]" - "$IMAGE" >/dev/null
"$ENGINE" image ls "$IMAGE"
