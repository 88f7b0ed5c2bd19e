#!/usr/bin/env bash
# Installs podman-compose 1.6.0 (from PyPI) for docker/compose.yml on Podman, when missing.
#
# Why not Debian's 1.0.3: its `down` removes no network and knows no `--remove-orphans`, and
# it ignores every `depends_on` condition. 1.6.0 needs only python3 with PyYAML and
# python-dotenv, which Debian packages; it is one file. It goes into its own folder,
# /opt/wsscale/podman-compose-1.6.0 (pip --target, nothing in the system's Python), and
# /usr/local/bin/podman-compose runs it with Debian's python3.
# Prints the path of the podman-compose it made sure of. Safe to run again.
# env: WSSCALE_PODMAN_COMPOSE_VERSION (default 1.6.0)
set -euo pipefail

VERSION="${WSSCALE_PODMAN_COMPOSE_VERSION:-1.6.0}"
TARGET="/opt/wsscale/podman-compose-$VERSION"
LAUNCHER=/usr/local/bin/podman-compose

fail() { echo "setup-podman-compose: $*" >&2; exit 1; }
source "$(dirname "$0")/daemon-setup.sh"

if [ -x "$LAUNCHER" ] && "$LAUNCHER" version 2>/dev/null | grep -q "podman-compose version $VERSION"; then
  echo "$LAUNCHER"
  exit 0
fi
[ "$(id -u)" = 0 ] || fail "podman-compose $VERSION is missing and only root can install it into $TARGET"
install_missing_packages python3 python3-pip python3-yaml python3-dotenv
if [ ! -f "$TARGET/podman_compose.py" ]; then
  echo "==> pip install podman-compose==$VERSION into $TARGET" >&2
  /usr/bin/python3 -m pip install --quiet --disable-pip-version-check --no-deps --root-user-action=ignore \
    --target "$TARGET" "podman-compose==$VERSION" >&2 \
    || fail "pip could not install podman-compose==$VERSION from PyPI"
fi
printf '#!/bin/sh\n# podman-compose %s, installed by wsscale scripts/setup-podman-compose.sh\nPYTHONPATH=%s exec /usr/bin/python3 -m podman_compose "$@"\n' \
  "$VERSION" "$TARGET" > "$LAUNCHER"
chmod 755 "$LAUNCHER"
"$LAUNCHER" version 2>/dev/null | grep -q "podman-compose version $VERSION" || fail "$LAUNCHER does not run"
echo "$LAUNCHER"
