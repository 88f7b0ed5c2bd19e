#!/usr/bin/env bash
# Prints the Debian mirror that debootstrap should use: WSSCALE_DEBIAN_MIRROR when set, else
# the first `deb` source of the machine's own apt configuration that serves the suite
# `bookworm` itself (not -security, not -updates): deb822 `.sources` files under
# /etc/apt/sources.list.d first, then the classic /etc/apt/sources.list and its .list files;
# else http://deb.debian.org/debian.
# Source it and call `debian_mirror`, or run it. WSSCALE_APT_DIR (default /etc/apt) is where
# the apt configuration is read (the tests point it at their own files).
debian_mirror() {
  local suite="${WSSCALE_DEBIAN_SUITE:-bookworm}" apt="${WSSCALE_APT_DIR:-/etc/apt}" file uri
  if [ -n "${WSSCALE_DEBIAN_MIRROR:-}" ]; then
    echo "$WSSCALE_DEBIAN_MIRROR"
    return
  fi
  for file in "$apt"/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    uri=$(awk -v suite="$suite" '
      BEGIN { RS=""; FS="\n" }
      {
        types=""; uris=""; suites=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/)  { types=$i }
          if ($i ~ /^URIs:/)   { uris=$i }
          if ($i ~ /^Suites:/) { suites=$i " " }
        }
        if (types ~ /[ \t]deb([ \t]|$)/ && uris != "" && suites ~ ("[ \t]" suite "[ \t]")) {
          sub(/^URIs:[ \t]*/, "", uris); split(uris, u, /[ \t]+/); print u[1]; exit
        }
      }' "$file")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  for file in "$apt"/sources.list "$apt"/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    # deb [options] URI SUITE COMPONENT...
    uri=$(awk -v suite="$suite" '$1 == "deb" {
             i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
             if ($(i + 1) == suite) { print $i; exit }
           }' "$file")
    if [ -n "$uri" ]; then echo "$uri"; return; fi
  done
  echo "http://deb.debian.org/debian"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  debian_mirror
fi
