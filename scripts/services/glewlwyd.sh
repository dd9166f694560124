#!/usr/bin/env bash
# Throwaway Glewlwyd (OAuth2 / OpenID Connect) on a free 127.0.0.1 port: `glewlwyd.sh start DIR` /
# `stop DIR`. Configures, through the admin API, a scope, the oidc plugin (code + PKCE, refresh with
# rotation: one-use refresh tokens), a user and a confidential client, and writes them to DIR/env.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

admin_user=admin
admin_pass=password # seeded by init.sqlite3.sql
scope=datasync
plugin=oidc
user=alice
client_id=datasync-test
redirect_uri=http://127.0.0.1/cb

# api METHOD PATH [JSON]: an admin API call with the session cookie; fails unless 2xx.
api() {
  local method=$1 path=$2 body=${3:-} code
  local args=(-s -o "$dir/api.out" -w '%{http_code}' -b "$dir/cookies" -c "$dir/cookies" -X "$method")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  code=$(curl "${args[@]}" "$url/api/$path")
  case "$code" in 2??) ;; *) echo "$method /api/$path: HTTP $code: $(cat "$dir/api.out")" >&2; return 1 ;; esac
}

start() {
  dir=$1
  local port try db sql=/usr/share/doc/glewlwyd/database/init.sqlite3.sql.gz key pass secret_
  need glewlwyd glewlwyd
  need sqlite3 sqlite3
  need curl curl
  need jq jq
  [ -f "$sql" ] || die "$sql missing: apt-get install -y glewlwyd"
  not_running "$dir"
  mkdir -p "$dir"
  db="$dir/glewlwyd.db"
  rm -f "$db"
  zcat "$sql" | sqlite3 "$db"
  for try in 1 2 3; do
    port=$(free_port)
    url="http://127.0.0.1:$port"
    # No use_secure_connection line: without certificates it is fatal even when false.
    cat >"$dir/glewlwyd.conf" <<CFG
port=$port
bind_address="127.0.0.1"
external_url="$url"
login_url="login.html"
api_prefix="api"
log_mode="console"
log_level="WARNING"
cookie_secure=0
admin_scope="g_admin"
profile_scope="g_profile"
user_module_path="/usr/lib/glewlwyd/user"
client_module_path="/usr/lib/glewlwyd/client"
user_auth_scheme_module_path="/usr/lib/glewlwyd/scheme"
plugin_module_path="/usr/lib/glewlwyd/plugin"
database = { type = "sqlite3"; path = "$db"; };
CFG
    glewlwyd --config-file="$dir/glewlwyd.conf" </dev/null >"$dir/log" 2>&1 &
    echo $! >"$dir/pid"
    if wait_until 60 "$(cat "$dir/pid")" curl -sf -o /dev/null "$url/config"; then
      break
    fi
    kill_pid "$(cat "$dir/pid")"
    grep -qi "address already in use\|error starting" "$dir/log" && continue
    cat "$dir/log" >&2; die "glewlwyd did not start"
  done

  key=$(secret 32); pass=$(secret); secret_=$(secret 16)
  rm -f "$dir/cookies"
  api POST auth/ "$(jq -nc --arg u "$admin_user" --arg p "$admin_pass" '{username:$u,password:$p}')"
  api POST scope/ "$(jq -nc --arg s "$scope" '{name:$s, display_name:"datasync tests",
    description:"datasync test scope", password_required:true, password_max_age:0, scheme:{}}')"
  # Rotation: every refresh_token grant answers a new refresh token and the used one dies;
  # reusing a rotated token fails and revokes its successor.
  api POST mod/plugin/ "$(jq -nc --arg n "$plugin" --arg iss "$url/api/$plugin" --arg k "$key" '{
    module:"oidc", name:$n, display_name:"OpenID Connect", enabled:true, order_rank:0, readonly:false,
    parameters:{
      iss:$iss, "jwt-type":"sha", "jwt-key-size":"256", key:$k,
      "access-token-duration":3600, "refresh-token-duration":1209600, "code-duration":600,
      "refresh-token-rolling":true, "refresh-token-one-use":"always",
      "allow-non-oidc":true, "pkce-allowed":true, "pkce-method-plain-allowed":false,
      "auth-type-code-enabled":true, "auth-type-refresh-enabled":true,
      "auth-type-token-enabled":false, "auth-type-id-token-enabled":true,
      "auth-type-none-enabled":false, "auth-type-password-enabled":false,
      "auth-type-client-enabled":true, "auth-type-device-enabled":true,
      "device-authorization-expiration":600, "device-authorization-interval":1,
      "introspection-revocation-allowed":true, "introspection-revocation-auth-scope":[],
      "introspection-revocation-allow-target-client":true,
      "scope":[], "additional-parameters":[], "claims":[]}}')"
  api PUT "mod/plugin/$plugin/reset"
  api POST user/ "$(jq -nc --arg u "$user" --arg p "$pass" --arg s "$scope" '{username:$u,
    password:$p, name:"Alice Test", email:"alice@example.com", scope:["openid",$s], enabled:true}')"
  api POST client/ "$(jq -nc --arg c "$client_id" --arg p "$secret_" --arg r "$redirect_uri" --arg s "$scope" '{
    client_id:$c, name:"datasync test client", client_secret:$p, confidential:true, enabled:true,
    redirect_uri:[$r], authorization_type:["code","refresh_token","client_credentials","device_authorization"],
    token_endpoint_auth_method:["client_secret_basic","client_secret_post"], scope:[$s]}')"
  rm -f "$dir/cookies" "$dir/api.out"

  cat >"$dir/env" <<ENV
GLEWLWYD_URL='$url'
GLEWLWYD_API_URL='$url/api'
GLEWLWYD_ADMIN_USER='$admin_user'
GLEWLWYD_ADMIN_PASSWORD='$admin_pass'
GLEWLWYD_PLUGIN='$plugin'
GLEWLWYD_ISSUER='$url/api/$plugin'
GLEWLWYD_AUTH_URL='$url/api/$plugin/auth'
GLEWLWYD_TOKEN_URL='$url/api/$plugin/token'
GLEWLWYD_DEVICE_URL='$url/api/$plugin/device_authorization'
GLEWLWYD_REVOKE_URL='$url/api/$plugin/revoke'
GLEWLWYD_SCOPE='$scope'
GLEWLWYD_CLIENT_ID='$client_id'
GLEWLWYD_CLIENT_SECRET='$secret_'
GLEWLWYD_REDIRECT_URI='$redirect_uri'
GLEWLWYD_USER='$user'
GLEWLWYD_PASSWORD='$pass'
ENV
  watch_parent "$dir"
}

stop() {
  local dir=$1
  stop_watch "$dir"
  [ -f "$dir/pid" ] && kill_pid "$(cat "$dir/pid")" "$dir/glewlwyd.conf"
  rm -f "$dir/pid"
}

main "$@"
