package e2e

import (
	"reflect"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// peopleMappings are the fields the LDAP → PostgreSQL sync must map: left
// (inetOrgPerson attribute) → right (postgres column).
var peopleMappings = map[string]string{
	"mail": "email", "cn": "full_name", "givenName": "first_name", "sn": "last_name", "telephoneNumber": "phone",
}

// TestPeopleLDAPToPostgres is a one-way sync from inetOrgPerson entries of an
// OpenLDAP OU into a PostgreSQL table through the datasync CLI: entries are
// created as rows, a modified or added entry reaches postgres on the next
// run, and changes made in postgres never reach the directory.
func TestPeopleLDAPToPostgres(t *testing.T) {
	env := testsvc.Slapd(t)
	ou := testsvc.CreateOU(t, env)
	dir, err := ldap.DialURL(env.URL)
	if err != nil {
		t.Fatalf("dial %s: %v", env.URL, err)
	}
	t.Cleanup(func() { dir.Close() })
	if err := dir.Bind(env.BindDN, env.BindPassword); err != nil {
		t.Fatalf("bind %s: %v", env.BindDN, err)
	}
	add := func(given, sn, mail, tel string) {
		t.Helper()
		cn := given + " " + sn
		req := ldap.NewAddRequest("cn="+ldap.EscapeDN(cn)+","+ou, nil)
		req.Attribute("objectClass", []string{"inetOrgPerson"})
		req.Attribute("cn", []string{cn})
		req.Attribute("sn", []string{sn})
		req.Attribute("givenName", []string{given})
		req.Attribute("mail", []string{mail})
		req.Attribute("telephoneNumber", []string{tel})
		if err := dir.Add(req); err != nil {
			t.Fatalf("add %s: %v", cn, err)
		}
	}
	// entries returns the OU's entries by lower-cased mail, attribute → first value.
	entries := func() map[string]row {
		t.Helper()
		res, err := dir.Search(ldap.NewSearchRequest(ou, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=inetOrgPerson)", []string{"cn", "sn", "givenName", "mail", "telephoneNumber", "modifyTimestamp"}, nil))
		if err != nil {
			t.Fatalf("search %s: %v", ou, err)
		}
		out := map[string]row{}
		for _, e := range res.Entries {
			r := row{"dn": e.DN}
			for _, a := range e.Attributes {
				r[a.Name] = strings.Join(a.Values, "|")
			}
			out[strings.ToLower(r["mail"])] = r
		}
		return out
	}
	add("Ada", "Lovelace", "ada@example.com", "+44 20 7946 0001")
	add("Alan", "Turing", "alan@example.com", "+44 20 7946 0002")
	add("Grace", "Hopper", "grace@example.com", "+1 202 555 0003")

	pg := newPG(t, `CREATE TABLE people (id serial PRIMARY KEY, email text UNIQUE, full_name text, first_name text,
		last_name text, phone text, updated_at timestamptz NOT NULL DEFAULT now())`)

	ds := newCLI(t, "ldap", "postgres")
	if out := ds.ok("connection", "add", "dir", "--plugin", "ldap", "--set", "url="+env.URL, "--set", "bind_dn="+env.BindDN,
		"--secret", "password="+env.BindPassword, "--set", "base_dn="+ou); !strings.Contains(out, "Added connection dir") {
		t.Fatalf("connection add dir said: %s", out)
	}
	ds.ok("connection", "add", "pg", "--plugin", "postgres", "--set", "url="+pg.url, "--secret", "password="+pg.pass)
	ds.ok("sync", "create", "people", "--left", "dir/inetOrgPerson", "--right", "pg/people",
		"--direction", "left-to-right", "--create-in", "right", "--default-mappings")
	mapped := mappings(ds, "people")
	for l, r := range peopleMappings {
		if mapped[l] != r {
			t.Logf("default mappings missed %s=%s; adding it with sync map", l, r)
			ds.ok("sync", "map", "people", "--add", l+"="+r)
		}
	}
	if got := mappings(ds, "people"); !reflect.DeepEqual(got, peopleMappings) {
		t.Fatalf("mappings %v, want %v", got, peopleMappings)
	}

	r := ds.syncRun("people")
	if r.Right.Created != 3 || r.Right.Updated != 0 || r.Left.writes() != 0 {
		t.Errorf("first run: %+v, want 3 created on the right and nothing on the left", r)
	}
	rows := pg.byEmail("people")
	if len(rows) != 3 {
		t.Fatalf("postgres has %d people after the first run, want 3: %v", len(rows), rows)
	}
	checkRow(t, "pg ada", rows["ada@example.com"], row{"full_name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace", "phone": "+44 20 7946 0001"})
	checkRow(t, "pg alan", rows["alan@example.com"], row{"full_name": "Alan Turing", "first_name": "Alan", "last_name": "Turing", "phone": "+44 20 7946 0002"})
	checkRow(t, "pg grace", rows["grace@example.com"], row{"full_name": "Grace Hopper", "first_name": "Grace", "last_name": "Hopper", "phone": "+1 202 555 0003"})
	ds.noErrors("people")
	alanStamp := rows["alan@example.com"]["updated_at"]

	// A modified entry and a new one reach postgres on the next run.
	ldapBefore := entries()
	mod := ldap.NewModifyRequest(ldapBefore["ada@example.com"]["dn"], nil)
	mod.Replace("telephoneNumber", []string{"+44 20 7946 0099"})
	mod.Replace("sn", []string{"King"})
	if err := dir.Modify(mod); err != nil {
		t.Fatalf("modify ada: %v", err)
	}
	add("Katherine", "Johnson", "katherine@example.com", "+1 757 555 0004")
	r = ds.syncRun("people")
	if r.Right.Created != 1 || r.Right.Updated != 1 || r.Left.writes() != 0 {
		t.Errorf("run after the LDAP changes: %+v, want 1 created and 1 updated on the right", r)
	}
	rows = pg.byEmail("people")
	checkRow(t, "pg ada after the modify", rows["ada@example.com"], row{"full_name": "Ada Lovelace", "first_name": "Ada", "last_name": "King", "phone": "+44 20 7946 0099"})
	checkRow(t, "pg katherine", rows["katherine@example.com"], row{"full_name": "Katherine Johnson", "first_name": "Katherine", "last_name": "Johnson", "phone": "+1 757 555 0004"})
	checkRow(t, "pg alan untouched", rows["alan@example.com"], row{"first_name": "Alan", "updated_at": alanStamp})
	if len(rows) != 4 {
		t.Errorf("postgres has %d people, want 4", len(rows))
	}

	// Changes in postgres do not flow back: neither an edit nor a new row.
	ldapBefore = entries()
	pg.exec(`UPDATE people SET first_name = 'Al', phone = '000', updated_at = clock_timestamp() WHERE email = 'alan@example.com'`)
	pg.exec(`INSERT INTO people (email, full_name, first_name, last_name) VALUES ('pgonly@example.com', 'Pat Only', 'Pat', 'Only')`)
	r = ds.syncRun("people")
	if r.Writes != 0 || r.Left.writes() != 0 || r.Right.writes() != 0 {
		t.Errorf("run after postgres-only changes wrote: %+v", r)
	}
	// The previous run's two writes to postgres carry echo marks: the
	// connector leaves them out, and reads only the edit and the new row.
	if r.Right.Read != 2 {
		t.Errorf("run after postgres-only changes read %d postgres rows, want 2 (the echoes of its own writes left out)", r.Right.Read)
	}
	if after := entries(); !reflect.DeepEqual(after, ldapBefore) {
		t.Errorf("the directory changed although the sync is left-to-right:\nbefore %v\nafter  %v", ldapBefore, after)
	}
	rows = pg.byEmail("people")
	checkRow(t, "pg alan keeps its local edit", rows["alan@example.com"], row{"first_name": "Al", "phone": "000"})
	if len(rows) != 5 {
		t.Errorf("postgres has %d people, want 5", len(rows))
	}
	ds.noErrors("people")

	// A complete run. The directory's entries are all linked and unchanged:
	// its plugin only sums them (a digest read) and none is read. Postgres
	// holds a row no link names (pgonly), so its sums disagree and it is read
	// in full.
	r = ds.syncRun("people", "--full")
	if r.Left.Read != 0 || r.Left.Verified != 4 || r.Right.Read != 5 || r.Right.Verified != 0 || r.Writes != 0 {
		t.Errorf("complete run: %+v, want the directory's 4 entries verified by digest, postgres's 5 rows read, nothing written", r)
	}
}
