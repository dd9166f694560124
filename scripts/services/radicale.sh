#!/usr/bin/env bash
# Throwaway Radicale (CardDAV) on a free 127.0.0.1 port: `radicale.sh start DIR` / `stop DIR`.
# Writes DIR/env with the server URL, one htpasswd user and an address book created for it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start() {
  local dir=$1 port pass pass2 user=alice user2=bob book url try code
  need radicale radicale
  need curl curl
  not_running "$dir"
  rm -rf "$dir/collections"
  mkdir -p "$dir/collections"
  pass=$(secret); pass2=$(secret)
  # A second account lets tests see owner_only rights and an account switch.
  printf '%s:%s\n%s:%s\n' "$user" "$pass" "$user2" "$pass2" >"$dir/users"
  for try in 1 2 3; do
    port=$(free_port)
    cat >"$dir/config" <<CFG
[server]
hosts = 127.0.0.1:$port
[auth]
type = htpasswd
htpasswd_filename = $dir/users
htpasswd_encryption = plain
[storage]
filesystem_folder = $dir/collections
[rights]
type = owner_only
[web]
type = none
[logging]
level = warning
CFG
    radicale --config "$dir/config" </dev/null >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    url="http://127.0.0.1:$port"
    # Any HTTP answer means it is serving (anonymous requests get 401).
    if wait_until 60 "$(cat "$dir/pid")" curl -s -o /dev/null "$url/"; then
      break
    fi
    kill_pid "$(cat "$dir/pid")"
    grep -qi "address already in use" "$dir/log" && continue
    cat "$dir/log" >&2; die "radicale did not start"
  done
  mkbook "$dir" "$url" "$user" "$pass" "/$user/contacts/"
  mkbook "$dir" "$url" "$user2" "$pass2" "/$user2/contacts/"
  book="/$user/contacts/"
  cat >"$dir/env" <<ENV
RADICALE_URL='$url'
RADICALE_USER='$user'
RADICALE_PASSWORD='$pass'
RADICALE_ADDRESSBOOK='$book'
RADICALE_ADDRESSBOOK_URL='$url$book'
RADICALE_USER2='$user2'
RADICALE_PASSWORD2='$pass2'
RADICALE_ADDRESSBOOK2='/$user2/contacts/'
ENV
  watch_parent "$dir"
}

# mkbook DIR URL USER PASS PATH creates an address book with an extended MKCOL (RFC 5689).
mkbook() {
  local dir=$1 url=$2 user=$3 pass=$4 book=$5 code
  code=$(curl -s -o "$dir/mkcol.out" -w '%{http_code}' -u "$user:$pass" -X MKCOL \
    -H 'Content-Type: application/xml; charset=utf-8' --data-binary @- "$url$book" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
    <D:displayname>Contacts</D:displayname>
  </D:prop></D:set>
</D:mkcol>
XML
)
  [ "$code" = 201 ] || { cat "$dir/mkcol.out" "$dir/log" >&2; die "MKCOL $book answered $code"; }
}

stop() {
  local dir=$1
  stop_watch "$dir"
  [ -f "$dir/pid" ] && kill_pid "$(cat "$dir/pid")" "$dir/config"
  rm -f "$dir/pid"
}

main "$@"
