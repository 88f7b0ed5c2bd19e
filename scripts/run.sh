#!/usr/bin/env bash
# The main job: installs what is missing, builds a release binary, and runs the whole
# stack on the embedded default backend (redis, haproxy, balancer, servers, client simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
swift build -c release --product wsscale
exec .build/release/wsscale up "$@"
