package e2e

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/emersion/go-vcard"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// contactMappings are the fields the PostgreSQL ↔ CardDAV sync must map:
// left (postgres column) → right (carddav field).
var contactMappings = map[string]string{
	"email": "email", "first_name": "given_name", "last_name": "family_name",
	"phone": "phone", "company": "organization",
}

// TestContactsPostgresCardDAV is a two-way contacts sync between a PostgreSQL
// table and a Radicale address book through the datasync CLI: creates both
// ways and a first-match merge, a second run writing nothing, an update on
// each side flowing to the other, and a conflict settled by prefer-left.
// Both sides are checked directly (SQL, and CardDAV over plain HTTP).
func TestContactsPostgresCardDAV(t *testing.T) {
	pg := newPG(t, `CREATE TABLE contacts (id serial PRIMARY KEY, email text UNIQUE, first_name text,
		last_name text, phone text, company text, updated_at timestamptz NOT NULL DEFAULT now())`)
	pg.exec(`INSERT INTO contacts (email, first_name, last_name, phone, company) VALUES
		('ann@example.com', 'Ann', 'Archer', '+1 555 0101', 'Acme'),
		('carl@example.com', 'Carl', 'Cole', '+1 555 0103', 'Cole Ltd'),
		('eve@example.com', 'Eve', 'Evans', NULL, NULL)`)

	rad := testsvc.Radicale(t)
	book := davBook{t: t, base: rad.URL, path: testsvc.CreateAddressBook(t, rad), user: rad.User, pass: rad.Password}
	book.put(book.path+"bob-1.vcf", newCard("bob-1", "Bob", "Baker", "bob@example.com", "+1 555 0102", "Globex"), "")
	book.put(book.path+"dora-1.vcf", newCard("dora-1", "Dora", "Dunn", "dora@example.com", "+1 555 0104", "Dunn & Co"), "")
	// Eve is on both sides: the card has her phone and company, not her given name.
	book.put(book.path+"eve-1.vcf", newCard("eve-1", "", "Evans", "Eve@Example.com", "+1 555 0105", "Evans Inc"), "")

	ds := newCLI(t, "postgres", "carddav")
	if out := ds.ok("connection", "add", "pg", "--plugin", "postgres", "--set", "url="+pg.url, "--secret", "password="+pg.pass); !strings.Contains(out, "Added connection pg") {
		t.Fatalf("connection add pg said: %s", out)
	}
	if out := ds.ok("connection", "add", "dav", "--plugin", "carddav", "--set", "url="+rad.URL, "--set", "addressbook="+book.path,
		"--set", "username="+rad.User, "--secret", "password="+rad.Password); !strings.Contains(out, "Added connection dav") {
		t.Fatalf("connection add dav said: %s", out)
	}
	ds.ok("sync", "create", "contacts", "--left", "pg/contacts", "--right", "dav/contacts", "--default-mappings", "--conflict", "prefer-left")
	mapped := mappings(ds, "contacts")
	var missing []string
	for l, r := range contactMappings {
		if mapped[l] != r {
			missing = append(missing, l+"="+r)
			ds.ok("sync", "map", "contacts", "--add", l+"="+r)
		}
	}
	if len(missing) > 0 {
		t.Logf("default mappings missed %v; added with sync map", missing)
	}
	if got := mappings(ds, "contacts"); !reflect.DeepEqual(got, contactMappings) {
		t.Fatalf("mappings %v, want %v", got, contactMappings)
	}

	// First run: each side's own contacts are created on the other; Eve's two
	// records are merged, each side filling the fields it lacked.
	r := ds.syncRun("contacts")
	if r.Left.Created != 2 || r.Right.Created != 2 || r.Left.Updated != 1 || r.Right.Updated != 1 {
		t.Errorf("first run: %+v, want 2 created and 1 updated on each side", r)
	}
	rows := pg.byEmail("contacts")
	if len(rows) != 5 {
		t.Fatalf("postgres has %d contacts after the first run, want 5: %v", len(rows), rows)
	}
	checkRow(t, "pg bob", rows["bob@example.com"], row{"first_name": "Bob", "last_name": "Baker", "phone": "+1 555 0102", "company": "Globex"})
	checkRow(t, "pg dora", rows["dora@example.com"], row{"first_name": "Dora", "last_name": "Dunn", "phone": "+1 555 0104", "company": "Dunn & Co"})
	checkRow(t, "pg eve", rows["eve@example.com"], row{"email": "eve@example.com", "first_name": "Eve", "last_name": "Evans", "phone": "+1 555 0105", "company": "Evans Inc"})
	cards := book.byEmail()
	if len(cards) != 5 {
		t.Fatalf("the address book has %d cards after the first run, want 5: %v", len(cards), keys(cards))
	}
	checkCard(t, cards["ann@example.com"], card{fn: "Ann Archer", given: "Ann", family: "Archer", tel: "+1 555 0101", org: "Acme"})
	checkCard(t, cards["carl@example.com"], card{fn: "Carl Cole", given: "Carl", family: "Cole", tel: "+1 555 0103", org: "Cole Ltd"})
	checkCard(t, cards["eve@example.com"], card{given: "Eve", family: "Evans", tel: "+1 555 0105", org: "Evans Inc"})
	if got := cards["eve@example.com"].card.Value(vcard.FieldEmail); got != "Eve@Example.com" {
		t.Errorf("eve's card EMAIL %q: the matched email was rewritten", got)
	}
	if got := cards["eve@example.com"].card.Value("X-TEST-KEEP"); got != "kept by every update" {
		t.Errorf("eve's card lost a property the sync does not map: X-TEST-KEEP = %q", got)
	}
	ds.noErrors("contacts")

	// A second run right after writes nothing: no counts, no stamps, no ETags.
	idle(t, ds, pg, book)

	// An update on each side flows to the other.
	pg.exec(`UPDATE contacts SET phone = '+1 555 0199', updated_at = clock_timestamp() WHERE email = 'ann@example.com'`)
	bob := book.get(cards["bob@example.com"].href)
	bob.card.SetValue(vcard.FieldOrganization, "Initech")
	book.put(bob.href, bob.card, bob.etag)
	r = ds.syncRun("contacts")
	if r.Left.Updated != 1 || r.Right.Updated != 1 || r.Left.Created+r.Right.Created != 0 {
		t.Errorf("update run: %+v, want 1 update on each side", r)
	}
	checkRow(t, "pg bob after the CardDAV edit", pg.byEmail("contacts")["bob@example.com"], row{"company": "Initech", "phone": "+1 555 0102"})
	cards = book.byEmail()
	checkCard(t, cards["ann@example.com"], card{fn: "Ann Archer", given: "Ann", family: "Archer", tel: "+1 555 0199", org: "Acme"})

	// A conflict: Carl's last name changed differently on both sides (and his
	// company only on the CardDAV side). prefer-left settles the name for
	// postgres on both sides; the company change still flows.
	pg.exec(`UPDATE contacts SET last_name = 'Cole-Left', updated_at = clock_timestamp() WHERE email = 'carl@example.com'`)
	carl := book.get(cards["carl@example.com"].href)
	carl.card.SetName(&vcard.Name{GivenName: "Carl", FamilyName: "Cole-Right"})
	carl.card.SetValue(vcard.FieldOrganization, "Cole Group")
	book.put(carl.href, carl.card, carl.etag)
	r = ds.syncRun("contacts")
	if r.Left.Updated != 1 || r.Right.Updated != 1 {
		t.Errorf("conflict run: %+v, want 1 update on each side", r)
	}
	checkRow(t, "pg carl after the conflict", pg.byEmail("contacts")["carl@example.com"], row{"last_name": "Cole-Left", "company": "Cole Group"})
	checkCard(t, book.byEmail()["carl@example.com"], card{given: "Carl", family: "Cole-Left", tel: "+1 555 0103", org: "Cole Group"})
	var open []any
	ds.json(&open, "sync", "conflicts", "contacts")
	if len(open) != 0 {
		t.Errorf("prefer-left left conflicts open: %v", open)
	}
	ds.noErrors("contacts")
	idle(t, ds, pg, book)

	var st struct {
		Records struct{ Linked, Syncing, Failing int }
		Totals  struct {
			Left, Right struct{ Created, Updated, Deleted, Failed int }
		}
	}
	ds.json(&st, "sync", "status", "contacts")
	if st.Records.Linked != 5 || st.Records.Syncing != 5 || st.Records.Failing != 0 ||
		st.Totals.Left.Created != 2 || st.Totals.Right.Created != 2 || st.Totals.Left.Updated != 3 || st.Totals.Right.Updated != 3 {
		t.Errorf("sync status: %+v", st)
	}
}

// idle runs the sync and fails the test unless the run wrote nothing: zero
// counts, postgres rows (updated_at included) and card ETags unchanged.
func idle(t *testing.T, ds cli, pg pgDB, book davBook) {
	t.Helper()
	rows, etags := pg.byEmail("contacts"), book.hrefs()
	r := ds.syncRun("contacts")
	if r.Writes != 0 || r.Left.writes() != 0 || r.Right.writes() != 0 {
		t.Errorf("a run right after another wrote: %+v", r)
	}
	if after := pg.byEmail("contacts"); !reflect.DeepEqual(after, rows) {
		t.Errorf("a run right after another changed postgres rows:\nbefore %v\nafter  %v", rows, after)
	}
	if after := book.hrefs(); !reflect.DeepEqual(after, etags) {
		t.Errorf("a run right after another changed cards:\nbefore %v\nafter  %v", etags, after)
	}
}

// mappings returns a sync's field mappings, left → right.
func mappings(ds cli, name string) map[string]string {
	ds.t.Helper()
	var def struct {
		Mappings []struct{ Left, Right string }
	}
	ds.json(&def, "sync", "show", name)
	out := map[string]string{}
	for _, m := range def.Mappings {
		out[m.Left] = m.Right
	}
	return out
}

// card is what a test expects of a stored vCard; fn "" is not checked.
type card struct {
	fn, given, family, tel, org string
}

func checkCard(t *testing.T, c davCard, want card) {
	t.Helper()
	if c.card == nil {
		t.Errorf("no card (want %+v)", want)
		return
	}
	got := card{given: "", family: "", tel: c.card.Value(vcard.FieldTelephone), org: c.card.Value(vcard.FieldOrganization)}
	if n := c.card.Name(); n != nil {
		got.given, got.family = n.GivenName, n.FamilyName
	}
	if want.fn != "" {
		got.fn = c.card.Value(vcard.FieldFormattedName)
	}
	if got != want {
		t.Errorf("card %s: got %+v, want %+v", c.href, got, want)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
