#!/usr/bin/env bash
# `make demo`: the whole admin workflow on SQLite alone, in .demo/.
# Two small apps (a CRM and a newsletter tool) with different field names and
# imperfect data; one two-way sync with default mappings, a custom mapping
# through a value map and an inclusion filter; a preview, a run, the status and
# the grouped errors; then a second run that writes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

demo=$PWD/.demo
rm -rf "$demo"
mkdir -p "$demo"
export DATASYNC_HOME=$demo/home
ds() { echo; printf '$ datasync'; printf ' %q' "$@"; echo; bin/datasync "$@"; }

go run ./scripts/demoseed -crm "$demo/crm.db" -newsletter "$demo/newsletter.db"

ds plugin install bin/datasync-connector-sqlite
ds connection add crm --plugin sqlite --set path="$demo/crm.db"
ds connection add newsletter --plugin sqlite --set path="$demo/newsletter.db"
ds connection schema newsletter subscribers

# Contacts sync both ways, matched by email; vendors ("other") stay in the CRM.
ds sync create contacts --left crm/contacts --right newsletter/subscribers \
  --default-mappings --filter-left 'lifecycle_stage != "other"'
ds sync map contacts --add lifecycle_stage=status --value-map 'lead:Prospect,customer:Customer'
ds sync show contacts
ds sync plan contacts
ds sync run contacts
ds sync status contacts
ds sync errors contacts
ds sync records contacts --created
echo
echo "# A second run right after the first writes nothing:"
ds sync run contacts

cat <<MSG

The demo's files are in .demo/: crm.db and newsletter.db (open them with sqlite3),
and DATASYNC_HOME=.demo/home (state.db, installed plugins, the master key).
Try:  export DATASYNC_HOME=$demo/home; bin/datasync sync --help
MSG
