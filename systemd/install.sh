#!/usr/bin/env bash
# Installs wsscale on this Debian 12 host as the Debian package wsscale (systemd units, the
# drop-ins of Debian's redis-server and haproxy, the polkit rule, /etc/wsscale, the system user
# wsscale): `apt-get install ./wsscale_VERSION_ARCH.deb`, which also installs what it depends on.
# Safe to run again: the same package is not installed twice, and nothing changes.
#
#   sudo systemd/install.sh [--deb FILE]     install (the package: --deb, WSSCALE_DEB, or built by
#                                            systemd/build-deb.sh, which takes WSSCALE_BINARY)
#   sudo systemd/install.sh --uninstall      remove everything it added (apt-get purge wsscale)
#
# Then: sudo systemctl start wsscale.target   (and `systemctl enable wsscale.target` for boot).
# The package's postinst makes the secrets once (root-only until their group is set): the admin
# token (/etc/wsscale/admin-token.env) and Redis's users (/etc/wsscale/redis-users.acl, with the
# default user off, and the balancer's URL in /etc/wsscale/redis-users.env). Every listener is on
# 127.0.0.1 (see systemd/README.md to serve other hosts).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEB="${WSSCALE_DEB:-}"
ACTION=install
while [ $# -gt 0 ]; do
  case "$1" in
    --uninstall) ACTION=uninstall ;;
    --deb) DEB="${2:?--deb needs a file}"; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "install.sh: run it as root (sudo $0)" >&2; exit 1; }
[ -d /run/systemd/system ] || echo "install.sh: warning: systemd is not running here; the units are installed but nothing starts" >&2
export DEBIAN_FRONTEND=noninteractive

installed_version() { dpkg-query -W -f='${db:Status-Abbrev} ${Version}' wsscale 2>/dev/null | awk '$1 == "ii" { print $2 }'; }

if [ "$ACTION" = uninstall ]; then
  if dpkg-query -W -f='${db:Status-Abbrev}' wsscale >/dev/null 2>&1; then
    echo "==> apt-get purge wsscale"
    apt-get purge -y -q wsscale
  else
    echo "==> wsscale is not installed; nothing to remove"
  fi
  exit 0
fi

if [ -z "$DEB" ]; then
  echo "==> building the package (systemd/build-deb.sh)"
  DEB="$("$HERE/build-deb.sh" "${WSSCALE_DEB_DIR:-$HERE/../.build-deb}" | tail -n 1)"
fi
[ -f "$DEB" ] || { echo "install.sh: no package at $DEB" >&2; exit 1; }
VERSION="$(dpkg-deb -f "$DEB" Version)"
if [ "$(installed_version)" = "$VERSION" ]; then
  echo "==> wsscale $VERSION is installed already; nothing to do"
  exit 0
fi
echo "==> apt-get install $DEB (wsscale $VERSION)"
# apt reads the package from a path it can reach as its sandbox user: copy it when needed.
WORK="$(mktemp -d /tmp/wsscale-install.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cp "$DEB" "$WORK/"
chmod 0755 "$WORK"; chmod 0644 "$WORK/$(basename "$DEB")"
apt-get install -y -q --no-install-recommends "$WORK/$(basename "$DEB")"
echo "==> installed; start it with: systemctl start wsscale.target"
