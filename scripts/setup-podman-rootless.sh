#!/usr/bin/env bash
# Makes rootless podman answer for one non-root user, as that user would run it, for
# docker/compose.yml on rootless podman (and its tests):
# - installs uidmap (newuidmap/newgidmap) and slirp4netns (rootless networking) when missing;
# - creates the user when missing (Debian's useradd gives it /etc/subuid and /etc/subgid ranges);
# - /dev/net/tun: slirp4netns opens it as the user. A Debian host's udev makes it 0666; inside a
#   container (this project's CI) it may be 0600, and then every rootless network fails with
#   `open("/dev/net/tun"): Permission denied`, so it is made 0666 as udev would;
# - XDG_RUNTIME_DIR=/run/user/<uid> (logind makes it at login; made here, 0700, the user's);
# - resets a lost pause process (podman's "invalid internal status": `podman system migrate`);
# - starts `podman system service --time 0` as the user on $XDG_RUNTIME_DIR/podman/podman.sock
#   (log: /tmp/wsscale-podman-<user>.log) unless it answers, and waits until it does;
# - copies the images named in WSSCALE_ROOTLESS_IMAGES (space-separated; default the base and
#   localhost/wsscale:local) from root's storage into the user's (`podman save | podman load`)
#   when the user lacks them or root's are newer.
# Prints the socket's path. Exits non-zero naming the cause. Safe to run again.
# Usage: scripts/setup-podman-rootless.sh USER   (as root)
set -euo pipefail

USER_NAME="${1:?usage: setup-podman-rootless.sh USER}"
IMAGES="${WSSCALE_ROOTLESS_IMAGES:-localhost/wsscale-base:bookworm localhost/wsscale:local}"
fail() { echo "setup-podman-rootless: $*" >&2; exit 1; }
source "$(dirname "$0")/daemon-setup.sh"

[ "$(id -u)" = 0 ] || fail "run it as root (it prepares another user)"
install_missing_packages podman uidmap slirp4netns runc >&2
id "$USER_NAME" >/dev/null 2>&1 || { useradd -m "$USER_NAME" || fail "useradd $USER_NAME failed"; }
grep -q "^$USER_NAME:" /etc/subuid || fail "$USER_NAME has no range in /etc/subuid"
uid="$(id -u "$USER_NAME")"
as_user() { runuser -u "$USER_NAME" -- env HOME="$(getent passwd "$USER_NAME" | cut -d: -f6)" XDG_RUNTIME_DIR="/run/user/$uid" "$@"; }

if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
  chmod 0666 /dev/net/tun
  echo "==> /dev/net/tun made 0666 (as udev makes it on a host), for slirp4netns" >&2
fi
install -d -m 0700 -o "$USER_NAME" -g "$(id -gn "$USER_NAME")" "/run/user/$uid" "/run/user/$uid/podman"
SOCKET="/run/user/$uid/podman/podman.sock"
answers() { as_user curl -fsS --max-time 2 --unix-socket "$SOCKET" http://d/v4.0.0/libpod/_ping >/dev/null 2>&1; }

if ! answers; then
  # The user's pause process holds its user namespace. When it is gone (killed with the
  # service, a machine's container restarted) podman refuses every call with "invalid internal
  # status, try resetting the pause process with podman system migrate": do what it says.
  info="$(cd / && as_user podman info 2>&1 >/dev/null || true)"
  if [[ "$info" == *"podman system migrate"* ]]; then
    (cd / && as_user podman system migrate) >&2 || fail "podman system migrate as $USER_NAME failed"
    echo "==> reset $USER_NAME's pause process (podman system migrate)" >&2
  fi
  LOG="/tmp/wsscale-podman-$USER_NAME.log"
  echo "==> starting rootless podman system service for $USER_NAME on unix://$SOCKET (log: $LOG)" >&2
  (cd / && start_detached "$LOG" runuser -u "$USER_NAME" -- env HOME="$(getent passwd "$USER_NAME" | cut -d: -f6)" \
     XDG_RUNTIME_DIR="/run/user/$uid" podman system service --time 0 "unix://$SOCKET")
  for _ in $(seq 1 60); do answers && break; sleep 0.5; done
  answers || { tail -n 20 "$LOG" >&2 || true; fail "the rootless podman service did not answer on $SOCKET within 30 s"; }
fi

for image in $IMAGES; do
  root_id="$(podman image inspect -f '{{.Id}}' "$image" 2>/dev/null)" || fail "root's podman has no $image to copy"
  user_id="$(cd / && as_user podman image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
  if [ "$root_id" != "$user_id" ]; then
    echo "==> copying $image into $USER_NAME's storage" >&2
    podman save "$image" | (cd / && as_user podman load -q) >&2 || fail "podman load of $image as $USER_NAME failed"
  fi
done
echo "$SOCKET"
