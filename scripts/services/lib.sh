# Shared helpers for the test-service scripts (sourced, not run).
# Conventions: every service lives under its DIR; DIR/pid holds the server's PID, DIR/log its
# output, DIR/env the KEY='value' lines a test needs (values never contain a single quote).

PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

need() { # need CMD PACKAGE
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: apt-get install -y $2 (or scripts/services/install.sh)"
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# secret prints a random hex string (safe in URLs, shells and config files).
secret() { openssl rand -hex "${1:-12}"; }

# wait_until SECONDS PID CMD... polls CMD every 0.1 s until it succeeds; fails when the
# server process PID has died or time runs out.
wait_until() {
  local limit=$1 pid=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# kill_pid PID [MARKER]: TERM, wait up to 10 s, then KILL; returns once the process is gone.
# With MARKER, a process whose command line lacks it is left alone: the server died earlier
# and its PID now belongs to someone else.
kill_pid() {
  local pid=$1 marker=${2:-} i
  kill -0 "$pid" 2>/dev/null || return 0
  if [ -n "$marker" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"; then
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    # A zombie child of ours counts as gone.
    [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = Z ] && return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.1
}

# watch_parent DIR: when DATASYNC_TESTSVC_PARENT_PID names a process (the test binary that
# asked for this service), stop the service once that process is gone, so a killed test run
# leaves no server behind. The watcher's PID goes to DIR/watch.pid for `stop` to end it.
watch_parent() {
  local dir=$1 parent=${DATASYNC_TESTSVC_PARENT_PID:-}
  [ -n "$parent" ] || return 0
  (
    trap - EXIT
    while kill -0 "$parent" 2>/dev/null; do sleep 1; done
    "$0" stop "$dir"
  ) </dev/null >/dev/null 2>&1 &
  echo $! >"$dir/watch.pid"
}

# stop_watch DIR ends the parent watcher, unless we are that watcher.
stop_watch() {
  local dir=$1 w
  [ -f "$dir/watch.pid" ] || return 0
  w=$(cat "$dir/watch.pid")
  rm -f "$dir/watch.pid"
  # The watcher runs `stop` itself, as a child ($PPID) or exec'd in its place ($$).
  [ "$w" = "$PPID" ] || [ "$w" = "$$" ] || kill "$w" 2>/dev/null || true
}

# not_running DIR refuses to start a second server over a live one.
not_running() {
  local dir=$1
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    die "$dir already runs PID $(cat "$dir/pid"): stop it first"
  fi
}

usage() { echo "usage: $0 start DIR | stop DIR" >&2; exit 2; }

# main ARGS...: the common command line; DIR is made absolute so that the command lines the
# servers run with (and stop's check of them) do not depend on the caller's directory.
main() {
  [ $# -eq 2 ] || usage
  local dir
  dir=$(realpath -m -- "$2")
  case "$1" in start) start "$dir" ;; stop) stop "$dir" ;; *) usage ;; esac
}
