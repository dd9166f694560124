#!/usr/bin/env bash
# Runs the test suite against real services started once for the whole run (tests find them
# through DATASYNC_TESTSVC_DIR) and stops them afterwards, whatever the outcome.
# Extra arguments go to `go test`; PKGS (default ./...) selects the packages.
set -euo pipefail
cd "$(dirname "$0")/.."

svcdir=$(mktemp -d /tmp/datasync-testsvc.XXXXXX)
log="$svcdir/go-test.log"
started=()
cleanup() {
  local s
  for s in "${started[@]}"; do
    scripts/services/$s.sh stop "$svcdir/$s" || echo "test.sh: stopping $s failed" >&2
  done
  rm -rf "$svcdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Should this script be killed outright, the services stop themselves once it is gone.
export DATASYNC_TESTSVC_PARENT_PID=$$

for s in postgres radicale slapd glewlwyd; do
  began=$(date +%s%N)
  started+=("$s") # before start: a half-started service gets stopped too
  if scripts/services/$s.sh start "$svcdir/$s"; then
    echo "test.sh: started $s in $(( ($(date +%s%N) - began) / 1000000 )) ms"
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: $s did not start" >&2
    exit 1
  else
    echo "test.sh: $s did not start; tests needing it will start their own or skip" >&2
    rm -rf "$svcdir/$s"
  fi
done
export DATASYNC_TESTSVC_DIR=$svcdir

rc=0
# shellcheck disable=SC2086 # PKGS is a list of patterns
go test -count=1 -p 2 -timeout 20m "$@" ${PKGS:-./...} 2>&1 | tee "$log" || rc=$?

echo
echo "=== test summary"
# go test prints one "ok|FAIL|?<TAB>package" line per package.
{ grep -E $'^(ok|FAIL|\\?) *\t' "$log" || true; } | awk '{print $1}' | sort | uniq -c |
  sed -e 's/ ok$/ packages passed/' -e 's/ FAIL$/ packages failed/' -e 's/ ?$/ packages without tests/'
if [ "$rc" -ne 0 ]; then
  echo "failed:"
  { grep -E -- $'^(\\s*--- FAIL|FAIL\t|panic:)' "$log" || true; } | sed 's/^/  /'
  for s in "${started[@]}"; do
    [ -f "$svcdir/$s/log" ] || continue
    echo "--- last lines of the $s log"
    tail -n 20 "$svcdir/$s/log"
  done
fi
echo "go test exit status: $rc"
exit "$rc"
