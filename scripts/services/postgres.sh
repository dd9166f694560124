#!/usr/bin/env bash
# Throwaway PostgreSQL on a free 127.0.0.1 port: `postgres.sh start DIR` / `postgres.sh stop DIR`.
# Writes DIR/env with PG_URL (role datasync, password auth, CREATEDB) and PG_ADMIN_URL (superuser).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pgbin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  die "PostgreSQL server binaries not found: apt-get install -y postgresql"
}

start() {
  local dir=$1 bin data port pass adminpass
  bin=$(pgbin)
  not_running "$dir"
  stop "$dir" # a leftover cluster directory from an earlier run
  mkdir -p "$dir"
  # postgres refuses to run as root, and a test's temp dir (0700, root) is not traversable by
  # the postgres user: the cluster lives in its own directory, recorded in DIR/data.path.
  data=$(mktemp -d /tmp/datasync-pg.XXXXXX)
  echo "$data" >"$dir/data.path"
  chown postgres: "$data"
  chmod 0700 "$data"
  pass=$(secret); adminpass=$(secret)
  printf '%s\n' "$adminpass" >"$data/pwfile"
  chown postgres: "$data/pwfile"
  runuser -u postgres -- "$bin/initdb" -D "$data/db" -U postgres --pwfile="$data/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  rm -f "$data/pwfile"
  local try
  for try in 1 2 3; do
    port=$(free_port)
    # Durability is pointless for a throwaway cluster; logical WAL for tests that use slots.
    # setpriv execs (no wrapper process), so $! is the postmaster itself.
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin/postgres" -D "$data/db" -p "$port" -k "$data" \
      -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
      -c full_page_writes=off -c wal_level=logical -c max_replication_slots=10 \
      -c max_wal_senders=10 -c max_connections=200 </dev/null >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    if wait_until 60 "$(cat "$dir/pid")" runuser -u postgres -- "$bin/pg_isready" -q -h "$data" -p "$port"; then
      break
    fi
    kill_pid "$(cat "$dir/pid")"
    grep -q "already in use" "$dir/log" && continue
    cat "$dir/log" >&2; die "postgres did not start"
  done
  psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" -U postgres "$@"; }
  psql_admin -d postgres -c "CREATE ROLE datasync LOGIN CREATEDB REPLICATION PASSWORD '$pass'" \
    -c "CREATE DATABASE datasync OWNER datasync" >/dev/null
  cat >"$dir/env" <<ENV
PG_HOST='127.0.0.1'
PG_PORT='$port'
PG_USER='datasync'
PG_PASSWORD='$pass'
PG_DB='datasync'
PG_URL='postgres://datasync:$pass@127.0.0.1:$port/datasync?sslmode=disable'
PG_ADMIN_USER='postgres'
PG_ADMIN_PASSWORD='$adminpass'
PG_ADMIN_URL='postgres://postgres:$adminpass@127.0.0.1:$port/postgres?sslmode=disable'
PG_SOCKET_DIR='$data'
ENV
  watch_parent "$dir"
}

stop() {
  local dir=$1 data=
  stop_watch "$dir"
  [ -f "$dir/data.path" ] && data=$(cat "$dir/data.path")
  [ -f "$dir/pid" ] && kill_pid "$(cat "$dir/pid")" "${data:-/tmp/datasync-pg.}"
  rm -f "$dir/pid"
  if [ -n "$data" ]; then
    case "$data" in /tmp/datasync-pg.*) rm -rf "$data" ;; esac
    rm -f "$dir/data.path"
  fi
}

main "$@"
