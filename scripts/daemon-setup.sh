# Functions the daemon setup scripts share (scripts/setup-docker.sh, scripts/setup-podman.sh).
# Source it after defining `fail MESSAGE` (prints and exits non-zero).

# install_missing_packages PACKAGE...: installs the Debian packages that are missing (apt, as root).
install_missing_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || fail "needs these Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})"
  echo "==> installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || fail "apt-get install ${missing[*]} failed"
}

# start_detached LOG COMMAND [ARG...]: starts a daemon in the background, appending its
# output to LOG. setsid: the daemon outlives this script and the shell that ran it.
# Every descriptor above 2 is closed first: a daemon that keeps one its starter inherited
# (Foundation's Process watches a socket for the child's end, a CI runner a pipe) makes
# whoever ran the setup script wait forever for the script to finish.
# It runs in /, not in the starter's folder: a podman service started from a checkout that was
# later deleted failed every container start ("write child: broken pipe", its conmon in a
# folder that no longer exists).
start_detached() {
  local log="$1"; shift
  mkdir -p "$(dirname "$log")"
  setsid bash -c 'cd / && for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; exec "$@"' start_detached "$@" \
    >>"$log" 2>&1 < /dev/null &
}
