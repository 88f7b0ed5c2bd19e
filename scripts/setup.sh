#!/usr/bin/env bash
# Installs what wsscale needs to build, run and test, when it is missing.
# Safe to run again: it only installs missing Debian packages.
set -euo pipefail

APT_PACKAGES=(pkg-config libhiredis-dev libcurl4-openssl-dev libsystemd-dev redis-server haproxy curl python3 socat python3-websockets python3-redis)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "wsscale needs these Debian packages: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "==> installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
    [ -x "$d/swift" ] && export PATH="$d:$PATH"
  done
fi
command -v swift >/dev/null 2>&1 || { echo "wsscale needs the Swift 6 toolchain (https://swift.org/install)" >&2; exit 1; }
