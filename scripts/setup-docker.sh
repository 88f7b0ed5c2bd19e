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

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "needs these Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  echo "==> installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

command -v dockerd >/dev/null 2>&1 || fail "dockerd is not installed (package docker.io)"
[ "$(id -u)" = 0 ] || fail "dockerd is not answering and only root can start it"

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "==> starting dockerd (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  # setsid: the daemon outlives this script and the shell that ran it.
  # Every descriptor above 2 is closed first: a daemon that keeps one its starter inherited
  # (Foundation's Process watches a socket for the child's end, a CI runner a pipe) makes
  # whoever ran this script wait forever for the script to finish.
  setsid bash -c 'for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec dockerd' \
    >>"$DOCKERD_LOG" 2>&1 < /dev/null &
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
