#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test suite.
# - WSSCALE_TEST_TIMEOUT (default 45m): `swift test` is stopped after this long, so a hung
#   test fails the run with a message instead of using up CI's time in silence.
# - The Docker tests need dockerd and the image wsscale:local: this script makes both ready
#   before the tests (scripts/setup-docker.sh, docker/build-image.sh); when it cannot, the
#   Docker tests print why they are skipped or run a stand-in, and everything else still runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "==> swift build (debug, tests included)"
swift build --build-tests

if [ -z "${WSSCALE_DOCKER_TEST_IMAGE:-}" ]; then
  IMAGE_LOG=/tmp/wsscale-test-build-image.log
  echo "==> Docker tests: dockerd, then the image wsscale:local (log: $IMAGE_LOG)"
  started=$SECONDS
  if scripts/setup-docker.sh && docker/build-image.sh wsscale:local >"$IMAGE_LOG" 2>&1; then
    echo "==> wsscale:local is ready ($((SECONDS - started)) s)"
  else
    echo "==> the Docker image could not be made ready; the Docker tests will say why" >&2
    tail -n 15 "$IMAGE_LOG" >&2 2>/dev/null || true
  fi
fi

TIMEOUT="${WSSCALE_TEST_TIMEOUT:-45m}"
echo "==> swift test (stopped after $TIMEOUT)"
status=0
timeout --kill-after=30s "$TIMEOUT" swift test --skip-build "$@" || status=$?
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "==> swift test did not finish within $TIMEOUT (WSSCALE_TEST_TIMEOUT); processes left:" >&2
  ps -eo pid,ppid,etime,args --forest | grep -E "wsscale|redis|haproxy|docker" | grep -v grep >&2 || true
fi
exit "$status"
