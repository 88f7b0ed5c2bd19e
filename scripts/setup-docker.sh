#!/usr/bin/env bash
# Makes a Docker daemon answer on this machine, for the Docker backend and its tests.
# - installs docker.io (dockerd 20.10, Engine API 1.41), docker-compose (v1.29, the one Debian
#   ships) and debootstrap when missing (apt, as root);
# - starts dockerd in the background when `docker info` fails (log: $WSSCALE_DOCKERD_LOG,
#   default /var/log/wsscale-dockerd.log) and waits until it answers (at most ~30 s).
# Exits non-zero with a message naming the cause when no daemon can be made to answer.
# Safe to run again: does nothing when the daemon already answers.
set -euo pipefail

DOCKERD_LOG="${WSSCALE_DOCKERD_LOG:-/var/log/wsscale-dockerd.log}"
APT_PACKAGES=(docker.io docker-compose debootstrap)

fail() { echo "setup-docker: $*" >&2; exit 1; }

source "$(dirname "$0")/daemon-setup.sh"
install_missing_packages "${APT_PACKAGES[@]}"

if docker info >/dev/null 2>&1; then
  exit 0
fi

command -v dockerd >/dev/null 2>&1 || fail "dockerd is not installed (package docker.io)"
[ "$(id -u)" = 0 ] || fail "dockerd is not answering and only root can start it"

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "==> starting dockerd (log: $DOCKERD_LOG)"
  start_detached "$DOCKERD_LOG" dockerd
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "==> dockerd answers ($(docker version --format '{{.Server.Version}} API {{.Server.APIVersion}}' 2>/dev/null))"
    exit 0
  fi
  sleep 0.5
done
tail -n 20 "$DOCKERD_LOG" >&2 2>/dev/null || true
fail "dockerd did not answer within 30 s (see $DOCKERD_LOG)"
