#!/usr/bin/env bash
# Installs the Debian packages the test services, the proto script and the browser test need.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# make runs the suite, gcc builds mattn/go-sqlite3 (cgo); chromium is for the dashboard test.
pkgs=(postgresql radicale python3-bcrypt slapd ldap-utils glewlwyd sqlite3 curl jq openssl
      protobuf-compiler chromium make gcc)

missing=()
for p in "${pkgs[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install.sh: all packages present"
  exit 0
fi

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "install.sh: installing ${missing[*]}"
# Another apt user (unattended upgrades, a parallel job) may hold the lock: wait for it.
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" </dev/null
