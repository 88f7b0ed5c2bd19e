#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "==> swift build (debug, tests included)"
swift build --build-tests
echo "==> swift test"
swift test --skip-build "$@"
