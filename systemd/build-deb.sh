#!/usr/bin/env bash
# Builds the Debian package wsscale_VERSION_amd64.deb with dpkg-deb: the static release binary
# (/usr/bin/wsscale), the units (/lib/systemd/system), the drop-ins of Debian's redis-server and
# haproxy units, the polkit rule, the configuration under /etc/wsscale (conffiles) and the
# maintainer scripts (postinst creates the system user wsscale; postrm purge removes it).
# - the binary: WSSCALE_BINARY, else `swift build -c release --static-swift-stdlib --product
#   wsscale` in the scratch directory docker/build-image.sh uses (WSSCALE_SCRATCH_PATH, default
#   .build-static: incremental, seconds when the image or an earlier package built it);
# - the version: WSSCALE_VERSION, else 0.1.0+git<commits>.<commit> of this checkout;
# - the output directory: the first argument, default .build-deb; prints the package's path last.
# Usage: systemd/build-deb.sh [OUTDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-.build-deb}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

BINARY="${WSSCALE_BINARY:-}"
if [ -z "$BINARY" ]; then
  SCRATCH="${WSSCALE_SCRATCH_PATH:-.build-static}"
  echo "==> swift build -c release --static-swift-stdlib --product wsscale --scratch-path $SCRATCH" >&2
  swift build -c release --static-swift-stdlib --product wsscale --scratch-path "$SCRATCH" >&2
  BINARY="$(swift build -c release --static-swift-stdlib --scratch-path "$SCRATCH" --show-bin-path)/wsscale"
fi
[ -x "$BINARY" ] || { echo "build-deb: no executable at $BINARY" >&2; exit 1; }

if [ -n "${WSSCALE_VERSION:-}" ]; then
  VERSION="$WSSCALE_VERSION"
elif git rev-parse --git-dir >/dev/null 2>&1; then
  VERSION="0.1.0+git$(git rev-list --count HEAD).$(git rev-parse --short=8 HEAD)"
else
  VERSION="0.1.0"
fi
ARCH="$(dpkg --print-architecture)"
PACKAGE="$OUT/wsscale_${VERSION}_${ARCH}.deb"

ROOT="$(mktemp -d /tmp/wsscale-deb.XXXXXX)"
trap 'rm -rf "$ROOT"' EXIT
chmod 0755 "$ROOT"
install -d -m 0755 "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/lib/systemd/system" \
  "$ROOT/lib/systemd/system/haproxy.service.d" "$ROOT/lib/systemd/system/redis-server.service.d" \
  "$ROOT/usr/share/polkit-1/rules.d" "$ROOT/etc/wsscale" "$ROOT/usr/share/doc/wsscale" "$ROOT/usr/share/wsscale"
install -m 0755 "$BINARY" "$ROOT/usr/bin/wsscale"
strip "$ROOT/usr/bin/wsscale" 2>/dev/null || true
for unit in wsscale-server@.service wsscale-balancer.service wsscale-client.service wsscale-dashboard.service wsscale.target; do
  install -m 0644 "systemd/$unit" "$ROOT/lib/systemd/system/$unit"
done
install -m 0644 systemd/dropins/haproxy.service.d/wsscale.conf "$ROOT/lib/systemd/system/haproxy.service.d/wsscale.conf"
install -m 0644 systemd/dropins/redis-server.service.d/wsscale.conf "$ROOT/lib/systemd/system/redis-server.service.d/wsscale.conf"
install -m 0644 systemd/polkit/50-wsscale.rules "$ROOT/usr/share/polkit-1/rules.d/50-wsscale.rules"
# wsscale.env may hold secrets: 0640 root:wsscale once postinst made the group (dpkg-statoverride).
install -m 0640 systemd/etc/wsscale.env "$ROOT/etc/wsscale/wsscale.env"
install -m 0644 systemd/etc/haproxy.cfg "$ROOT/etc/wsscale/haproxy.cfg"
install -m 0644 systemd/etc/redis.conf "$ROOT/etc/wsscale/redis.conf"
install -m 0644 systemd/etc/redis-users.acl.in "$ROOT/usr/share/wsscale/redis-users.acl.in"
install -m 0644 README.md "$ROOT/usr/share/doc/wsscale/README.md"
# The example app (examples/chat): WSSCALE_APP_COMMAND='/usr/bin/python3 /usr/share/wsscale/examples/chat/chat.py'
install -d -m 0755 "$ROOT/usr/share/wsscale/examples/chat"
install -m 0644 examples/chat/chat.py examples/chat/README.md "$ROOT/usr/share/wsscale/examples/chat/"
install -m 0644 systemd/README.md "$ROOT/usr/share/doc/wsscale/README.systemd.md"
printf '%s\n' /etc/wsscale/wsscale.env /etc/wsscale/haproxy.cfg /etc/wsscale/redis.conf > "$ROOT/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "systemd/debian/$script" "$ROOT/DEBIAN/$script"
done
SIZE="$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)"
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: wsscale
Version: $VERSION
Architecture: $ARCH
Maintainer: wsscale maintainers <wsscale@localhost>
Installed-Size: $SIZE
Depends: adduser, redis-server, haproxy, polkitd, libhiredis0.14, libcurl4, libsystemd0
Section: net
Priority: optional
Homepage: https://github.com/wsscale/wsscale
Description: autoscaler for WebSocket servers by connection count
 wsscale scales WebSocket servers horizontally by their number of persistent
 connections: a balancer drives HAProxy's runtime API and a Redis session
 registry, and starts each server as a systemd unit (wsscale-server@.service).
 Start it all with: systemctl start wsscale.target
CONTROL
rm -f "$OUT"/wsscale_*_"$ARCH".deb
dpkg-deb --root-owner-group -Zxz -z1 --build "$ROOT" "$PACKAGE" >&2
echo "$PACKAGE"
