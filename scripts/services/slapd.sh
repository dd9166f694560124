#!/usr/bin/env bash
# Throwaway OpenLDAP slapd on a free 127.0.0.1 port: `slapd.sh start DIR` / `slapd.sh stop DIR`.
# Writes DIR/env with the URL, base DN (dc=example,dc=com), bind DN + password and ou=people.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

base='dc=example,dc=com'
binddn="cn=admin,$base"
people="ou=people,$base"

start() {
  local dir=$1 port pass hash url try
  need slapd slapd
  need slapadd slapd
  need ldapwhoami ldap-utils
  [ -f /usr/lib/ldap/back_mdb.so ] || die "/usr/lib/ldap/back_mdb.so missing: apt-get install -y slapd"
  not_running "$dir"
  rm -rf "$dir/slapd.d" "$dir/db"
  mkdir -p "$dir/slapd.d" "$dir/db"
  pass=$(secret)
  hash=$(slappasswd -s "$pass")
  # cn=config first, then modules, schemas, the frontend/config databases and the mdb database.
  cat >"$dir/config.ldif" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $dir/slapd.pid
olcArgsFile: $dir/slapd.args

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: syncprov

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $base
olcRootDN: $binddn
olcRootPW: $hash
olcDbDirectory: $dir/db
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: cn,sn,givenName,mail eq,sub
olcDbIndex: uid eq
olcDbIndex: entryCSN,entryUUID eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by self write by users read by * none

dn: olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSyncProvConfig
olcOverlay: {0}syncprov
LDIF
  slapadd -n0 -F "$dir/slapd.d" -l "$dir/config.ldif" >"$dir/slapadd.log" 2>&1 \
    || { cat "$dir/slapadd.log" >&2; die "slapadd of the config failed"; }
  cat >"$dir/base.ldif" <<LDIF
dn: $base
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: $people
objectClass: organizationalUnit
ou: people
LDIF
  slapadd -n1 -F "$dir/slapd.d" -l "$dir/base.ldif" >>"$dir/slapadd.log" 2>&1 \
    || { cat "$dir/slapadd.log" >&2; die "slapadd of the base entries failed"; }
  for try in 1 2 3; do
    port=$(free_port)
    url="ldap://127.0.0.1:$port"
    # -d 0 keeps it in the foreground, so $! is slapd itself.
    slapd -h "$url/" -F "$dir/slapd.d" -d 0 </dev/null >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    if wait_until 60 "$(cat "$dir/pid")" ldapwhoami -x -H "$url" -D "$binddn" -w "$pass"; then
      break
    fi
    kill_pid "$(cat "$dir/pid")"
    grep -qi "address already in use" "$dir/log" && continue
    cat "$dir/log" >&2; die "slapd did not start (run slapd with -d stats to see why)"
  done
  cat >"$dir/env" <<ENV
LDAP_URL='$url'
LDAP_HOST='127.0.0.1'
LDAP_PORT='$port'
LDAP_BASE_DN='$base'
LDAP_BIND_DN='$binddn'
LDAP_BIND_PASSWORD='$pass'
LDAP_PEOPLE_DN='$people'
ENV
  watch_parent "$dir"
}

stop() {
  local dir=$1
  stop_watch "$dir"
  [ -f "$dir/pid" ] && kill_pid "$(cat "$dir/pid")" "$dir/slapd.d"
  rm -f "$dir/pid"
}

main "$@"
