#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test suite.
# - WSSCALE_TEST_TIMEOUT (default 45m): `swift test` is stopped after this long, so a hung
#   test fails the run with a message instead of using up CI's time in silence.
# - The Docker tests need dockerd and the image wsscale:local: this script makes both ready
#   before the tests (scripts/setup-docker.sh, docker/build-image.sh); when it cannot, the
#   Docker tests print why they are skipped or run a stand-in, and everything else still runs.
# - The swarm tests need that dockerd to be a swarm manager: a single-node swarm is made here.
# - The Podman tests likewise need podman's REST API and localhost/wsscale:local
#   (scripts/setup-podman.sh, CONTAINER_ENGINE=podman docker/build-image.sh); when podman
#   cannot work, they print `SKIPPING the Podman tests:` and why.
# - The systemd tests need podman and localhost/wsscale-systemd:bookworm (systemd/image.sh).
# - The systemd stack tests need podman, the image localhost/wsscale-systemd:bookworm
#   (systemd/image.sh) and the package wsscale_*.deb (systemd/build-deb.sh, from the same
#   release binary in .build-static): made ready here once, the package named to the tests in
#   WSSCALE_SYSTEMD_TEST_DEB; when they cannot be, the tests print `SKIPPING the systemd stack tests:`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

echo "==> swift build (debug, tests included)"
swift build --build-tests

# ready_image NAME SETUP ENGINE VARIABLE IMAGE: the engine's daemon (SETUP script), then the
# image wsscale:local built for ENGINE, named to the tests in VARIABLE=IMAGE (they then use it as
# it is instead of building it again); a failure only says so (the tests then print SKIPPING or
# STAND-IN and why).
ready_image() {
  local name="$1" setup="$2" engine="$3" variable="$4" image="$5"
  local log="/tmp/wsscale-test-build-$3-image.log" started=$SECONDS
  echo "==> $name tests: $setup, then the image wsscale:local (log: $log)"
  if "$setup" && CONTAINER_ENGINE="$engine" docker/build-image.sh wsscale:local >"$log" 2>&1; then
    echo "==> $name: $image is ready ($((SECONDS - started)) s)"
    export "$variable=$image"
  else
    echo "==> the $name image could not be made ready; the $name tests will say why" >&2
    tail -n 15 "$log" >&2 2>/dev/null || true
  fi
}
[ -n "${WSSCALE_DOCKER_TEST_IMAGE:-}" ] || ready_image Docker scripts/setup-docker.sh docker WSSCALE_DOCKER_TEST_IMAGE wsscale:local
# ready_chat_image ENGINE VARIABLE IMAGE: the example chat's app image (examples/chat/Dockerfile: the
# app with wsscale in front), built on the engine's wsscale:local once that is ready, named to the
# tests in VARIABLE; without it the own-app container tests say they are skipped.
ready_chat_image() {
  local engine="$1" variable="$2" image="$3" log="/tmp/wsscale-test-build-$1-chat-image.log" started=$SECONDS
  [ -z "${!variable:-}" ] || return 0
  echo "==> own-app tests on $engine: examples/chat/build-image.sh $image (log: $log)"
  if CONTAINER_ENGINE="$engine" examples/chat/build-image.sh "$image" >"$log" 2>&1; then
    echo "==> $engine: $image is ready ($((SECONDS - started)) s)"
    export "$variable=$image"
  else
    echo "==> the $engine chat image could not be made; the own-app tests on $engine will say so" >&2
    tail -n 15 "$log" >&2 2>/dev/null || true
  fi
}
[ -z "${WSSCALE_DOCKER_TEST_IMAGE:-}" ] || ready_chat_image docker WSSCALE_DOCKER_CHAT_IMAGE wsscale-chat:local
# The swarm backend's tests run on a single-node swarm of that dockerd, made here before any
# test runs (not in the middle of the Docker tests), advertised on 127.0.0.1 only; when it
# cannot be made, the swarm tests say why.
if docker info >/dev/null 2>&1 && [ "$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" != active ]; then
  echo "==> swarm tests: docker swarm init --advertise-addr 127.0.0.1"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1 || echo "==> docker swarm init failed; the swarm tests will say why" >&2
fi
[ -n "${WSSCALE_PODMAN_TEST_IMAGE:-}" ] || ready_image Podman scripts/setup-podman.sh podman WSSCALE_PODMAN_TEST_IMAGE localhost/wsscale:local
[ -z "${WSSCALE_PODMAN_TEST_IMAGE:-}" ] || ready_chat_image podman WSSCALE_PODMAN_CHAT_IMAGE localhost/wsscale-chat:local
# The systemd backend's tests boot systemd in a podman container of systemd/image.sh's image
# (named to them in WSSCALE_SYSTEMD_TEST_IMAGE); when it cannot be made, they print
# `SKIPPING the systemd tests:` and why.
if [ -z "${WSSCALE_SYSTEMD_TEST_IMAGE:-}" ]; then
  log=/tmp/wsscale-test-systemd-image.log started=$SECONDS
  echo "==> systemd tests: scripts/setup-podman.sh, then systemd/image.sh (log: $log)"
  if scripts/setup-podman.sh >"$log" 2>&1 && systemd/image.sh >>"$log" 2>&1; then
    echo "==> systemd: localhost/wsscale-systemd:bookworm is ready ($((SECONDS - started)) s)"
    export WSSCALE_SYSTEMD_TEST_IMAGE=localhost/wsscale-systemd:bookworm
  else
    echo "==> the systemd image could not be made ready; the systemd tests will say why" >&2
    tail -n 15 "$log" >&2 2>/dev/null || true
  fi
fi

if [ -z "${WSSCALE_SYSTEMD_TEST_DEB:-}" ]; then
  log=/tmp/wsscale-test-systemd.log started=$SECONDS
  echo "==> systemd stack tests: systemd/image.sh, then systemd/build-deb.sh (log: $log)"
  if scripts/setup-podman.sh >"$log" 2>&1 && systemd/image.sh >>"$log" 2>&1 \
     && deb="$(systemd/build-deb.sh 2>>"$log" | tail -n 1)" && [ -f "$deb" ]; then
    echo "==> systemd: localhost/wsscale-systemd:bookworm and $deb are ready ($((SECONDS - started)) s)"
    export WSSCALE_SYSTEMD_TEST_DEB="$deb"
  else
    echo "==> the systemd image or package could not be made ready; the systemd stack tests will say why" >&2
    tail -n 15 "$log" >&2 2>/dev/null || true
  fi
fi

# The example app's own test (examples/chat: Python, a redis-server of its own); the Swift
# tests run it behind wsscale on every backend.
echo "==> examples/chat/test_chat.py"
/usr/bin/python3 examples/chat/test_chat.py

TIMEOUT="${WSSCALE_TEST_TIMEOUT:-45m}"
echo "==> swift test (stopped after $TIMEOUT)"
status=0
timeout --kill-after=30s "$TIMEOUT" swift test --skip-build "$@" || status=$?
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "==> swift test did not finish within $TIMEOUT (WSSCALE_TEST_TIMEOUT); processes left:" >&2
  ps -eo pid,ppid,etime,args --forest | grep -E "wsscale|redis|haproxy|docker|podman" | grep -v grep >&2 || true
fi
exit "$status"
