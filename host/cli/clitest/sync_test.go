package clitest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/datasync-io/datasync/host/store"
)

// sqliteDB is a test database the sqlite plugin serves; every call opens
// and closes it, so the test holds no connection while the plugin writes.
type sqliteDB struct {
	t    *testing.T
	path string
}

func newDB(t *testing.T, name, schema string) sqliteDB {
	d := sqliteDB{t: t, path: filepath.Join(t.TempDir(), name)}
	d.exec(schema)
	return d
}

func (d sqliteDB) exec(q string, args ...any) {
	d.t.Helper()
	db, err := sql.Open("sqlite3", d.path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		d.t.Fatalf("%s: %v", q, err)
	}
}

// row is a table row, column → text ("" for NULL).
type row map[string]string

// rows returns a table's rows by id.
func (d sqliteDB) rows(table string) map[string]row {
	d.t.Helper()
	db, err := sql.Open("sqlite3", d.path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(`SELECT * FROM ` + table + ` ORDER BY id`)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	out := map[string]row{}
	for rs.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			d.t.Fatal(err)
		}
		r := row{}
		for i, c := range cols {
			r[c] = vals[i].String
		}
		out[r["id"]] = r
	}
	if err := rs.Err(); err != nil {
		d.t.Fatal(err)
	}
	return out
}

// byEmail indexes rows by lower-cased email.
func byEmail(rows map[string]row) map[string]row {
	out := map[string]row{}
	for _, r := range rows {
		if r["email"] != "" {
			out[strings.ToLower(r["email"])] = r
		}
	}
	return out
}

// stamp is an updated_at value as the sqlite connector writes it, so
// incremental reads see edits made behind datasync's back.
func stamp() string { return time.Now().UTC().Format("2006-01-02 15:04:05.000000") }

// okJSON runs datasync with --json and decodes its output into v.
func okJSON(t *testing.T, home string, v any, args ...string) {
	t.Helper()
	r := ok(t, home, append(args, "--json")...)
	// Decode into a zero value: a reused one keeps fields the output omits.
	rv := reflect.ValueOf(v).Elem()
	rv.Set(reflect.Zero(rv.Type()))
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("datasync %s --json: %v\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

type counts struct {
	Read, Created, Updated, Deleted, Failed, Excluded, Unchanged, Conflicts, Queued int
}

type runOut struct {
	Status string
	Writes int
	Failed int
	Error  string
	Left   counts
	Right  counts
	Errors []errGroup
}

type errGroup struct {
	Category string
	Count    int
	Hint     string
	Records  []struct {
		Side     string
		RecordID string `json:"record_id"`
		Field    string
		Value    string
		Message  string
	}
}

func group(groups []errGroup, cat string) *errGroup {
	for i := range groups {
		if groups[i].Category == cat {
			return &groups[i]
		}
	}
	return nil
}

const (
	crmSchema = `CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT,
		phone TEXT, lifecycle_stage TEXT, updated_at TEXT)`
	newsSchema = `CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email TEXT, firstname TEXT, lastname TEXT,
		telephoneNumber TEXT, stage TEXT, updated_at TEXT)`
)

// TestSyncWorkflow is an admin's whole workflow through the datasync
// binary, with the sqlite plugin over go-plugin on two databases: a CRM
// (contacts) and a newsletter tool (subscribers) with other field names.
func TestSyncWorkflow(t *testing.T) {
	home := t.TempDir()
	crm := newDB(t, "crm.db", crmSchema)
	news := newDB(t, "news.db", newsSchema)
	s0 := "2026-01-01 00:00:00.000000"
	for _, c := range [][]any{
		{1, "ann@example.com", "Ann", "Archer", "555-0101", "lead"},
		{2, "bob@example.com", "Bob", "Baker", "555-0102", "customer"},
		{3, nil, "Carl", "Cole", "555-0103", "lead"},                   // no email: missing_identifier
		{4, "not-an-email", "Dora", "Dunn", "555-0104", "lead"},        // invalid: validation on the right
		{5, "eve@example.com", "Eve", "Evans", "555-0105", "archived"}, // kept out by the filter
		{6, "fay@example.com", "Fay", "Fox", nil, "customer"},          // matches FAY@Example.com
	} {
		crm.exec(`INSERT INTO contacts (id, email, first_name, last_name, phone, lifecycle_stage, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, append(c, s0)...)
	}
	for _, s := range [][]any{
		{1, "FAY@Example.com", nil, "Fox", "555-0106", "Customer"},
		{2, "gus@example.com", "Gus", "Grant", "555-0107", "Lead"},
	} {
		news.exec(`INSERT INTO subscribers (id, email, firstname, lastname, telephoneNumber, stage, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, append(s, s0)...)
	}

	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)
	ok(t, home, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)

	// Refusals name the problem and save nothing.
	base := []string{"sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers"}
	fails(t, home, `connection crm has no object "people"; it has: contacts`,
		"sync", "create", "cn", "--left", "crm/people", "--right", "news/subscribers")
	fails(t, home, `left object "contacts" has no field "mail"`, append(base, "--match", "mail=email")...)
	r := fails(t, home, "--filter-left", append(base, "--filter-left", `stage == "lead"`)...)
	if !strings.Contains(r.stderr, "stage") {
		t.Fatalf("filter error does not name the field:\n%s", r.stderr)
	}
	fails(t, home, "connection nope does not exist", "sync", "create", "cn", "--left", "nope/contacts", "--right", "news/subscribers")
	var list []map[string]any
	okJSON(t, home, &list, "sync", "list")
	if len(list) != 0 {
		t.Fatalf("refused creates saved %v", list)
	}

	// Create with default mappings, a filter, prefer-left and propagated
	// deletes; then a value-mapped field and a manual rule.
	r = ok(t, home, append(base, "--default-mappings", "--filter-left", `lifecycle_stage != "archived"`,
		"--conflict", "prefer-left", "--deletes", "propagate", "--every", "5m")...)
	for _, want := range []string{"Created sync cn (draft)", "match:           email=email",
		"first_name ⇄ firstname", "last_name ⇄ lastname", "phone ⇄ telephoneNumber"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("create output lacks %q:\n%s", want, r.stdout)
		}
	}
	fails(t, home, `right object "subscribers" has no field "lifecycle"`, "sync", "map", "cn", "--add", "lifecycle_stage=lifecycle")
	ok(t, home, "sync", "map", "cn", "--add", "lifecycle_stage=stage", "--value-map", "lead:Lead,customer:Customer")
	ok(t, home, "sync", "map", "cn", "--add", "phone=telephoneNumber", "--conflict", "manual")
	var def struct {
		Name, State, Conflict, Deletes, Every string
		FilterLeft                            string `json:"filter_left"`
		Match                                 []struct{ Left, Right string }
		Mappings                              []struct {
			Left, Right string
			Rule        string
			ValueMap    map[string]string `json:"value_map"`
		}
	}
	okJSON(t, home, &def, "sync", "show", "cn")
	maps := map[string]string{}
	for _, m := range def.Mappings {
		maps[m.Left+"="+m.Right] = m.Rule
		if m.Left == "lifecycle_stage" && !reflect.DeepEqual(m.ValueMap, map[string]string{"lead": "Lead", "customer": "Customer"}) {
			t.Errorf("value map: %v", m.ValueMap)
		}
	}
	wantMaps := map[string]string{"email=email": "", "first_name=firstname": "", "last_name=lastname": "",
		"phone=telephoneNumber": "manual", "lifecycle_stage=stage": ""}
	if !reflect.DeepEqual(maps, wantMaps) || def.State != "draft" || def.Conflict != "prefer-left" ||
		def.Deletes != "propagate" || def.Every != "5m0s" || len(def.Match) != 1 || def.Match[0].Left != "email" {
		t.Fatalf("sync show: %+v\nmappings %v", def, maps)
	}

	fails(t, home, "--filter-right", "sync", "set", "cn", "--filter-right", `nofield == "x"`)
	if r := ok(t, home, "sync", "set", "cn", "--every", "10m"); !strings.Contains(r.stdout, "every:           10m0s") ||
		!strings.Contains(r.stdout, "filter left:     lifecycle_stage != \"archived\"") {
		t.Errorf("sync set said:\n%s", r.stdout)
	}

	// plan: what the first run will do, and nothing written.
	crm0, news0 := crm.rows("contacts"), news.rows("subscribers")
	var plan struct {
		Left, Right struct {
			Create []struct {
				Source string
				Fields []struct {
					Field string
					New   any
				}
			}
			Update []struct {
				ID      string
				Changes []struct {
					Field    string
					Old, New any
				}
			}
			Delete []any
		}
		Errors []errGroup
		Writes int
	}
	okJSON(t, home, &plan, "sync", "plan", "cn")
	var rightSources []string
	for _, c := range plan.Right.Create {
		rightSources = append(rightSources, c.Source)
	}
	sort.Strings(rightSources)
	if !reflect.DeepEqual(rightSources, []string{"1", "2"}) || len(plan.Left.Create) != 1 || plan.Left.Create[0].Source != "2" ||
		len(plan.Right.Update) != 1 || plan.Right.Update[0].ID != "1" || len(plan.Left.Update) != 1 || plan.Left.Update[0].ID != "6" ||
		plan.Writes != 5 {
		t.Fatalf("plan: %+v", plan)
	}
	if ch := plan.Left.Update[0].Changes; len(ch) != 1 || ch[0].Field != "phone" || ch[0].Old != nil || ch[0].New != "555-0106" {
		t.Errorf("plan update of fay on the left: %+v", ch)
	}
	if g := group(plan.Errors, "missing_identifier"); g == nil || g.Count != 1 || g.Records[0].RecordID != "3" {
		t.Errorf("plan errors: %+v", plan.Errors)
	}
	if !reflect.DeepEqual(crm.rows("contacts"), crm0) || !reflect.DeepEqual(news.rows("subscribers"), news0) {
		t.Fatal("sync plan wrote to a database")
	}
	r = ok(t, home, "sync", "plan", "cn")
	if !strings.Contains(r.stdout, "update 6: phone (empty) → \"555-0106\"") || !strings.Contains(r.stdout, "nothing was written") {
		t.Errorf("plan text:\n%s", r.stdout)
	}

	// First run: creates and first-match merges both ways; two records fail
	// and are reported, the run still succeeds.
	r = ok(t, home, "sync", "run", "cn")
	for _, want := range []string{"Run of sync cn completed", "left  crm/contacts: 1 created, 1 updated, 0 deleted",
		"right news/subscribers: 2 created, 1 updated, 0 deleted",
		"2 records did not sync: 1 missing_identifier, 1 validation", "datasync sync errors cn"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("run output lacks %q:\n%s", want, r.stdout)
		}
	}
	crm1, news1 := byEmail(crm.rows("contacts")), byEmail(news.rows("subscribers"))
	if len(crm1) != 6 || len(news1) != 4 {
		t.Fatalf("after run 1: crm %v\nnews %v", crm1, news1)
	}
	checkRow(t, "news ann", news1["ann@example.com"], row{"firstname": "Ann", "lastname": "Archer", "telephoneNumber": "555-0101", "stage": "Lead"})
	checkRow(t, "news bob", news1["bob@example.com"], row{"firstname": "Bob", "lastname": "Baker", "telephoneNumber": "555-0102", "stage": "Customer"})
	checkRow(t, "news fay", news1["fay@example.com"], row{"email": "FAY@Example.com", "firstname": "Fay", "telephoneNumber": "555-0106", "stage": "Customer"})
	checkRow(t, "crm fay", crm1["fay@example.com"], row{"email": "fay@example.com", "first_name": "Fay", "phone": "555-0106", "lifecycle_stage": "customer"})
	checkRow(t, "crm gus", crm1["gus@example.com"], row{"first_name": "Gus", "last_name": "Grant", "phone": "555-0107", "lifecycle_stage": "lead"})
	if _, ok := news1["eve@example.com"]; ok {
		t.Error("archived eve passed the filter")
	}
	if _, ok := news1["not-an-email"]; ok {
		t.Error("the invalid email was written")
	}

	// A second run right after writes nothing: counts and stamps.
	var run runOut
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Writes != 0 || run.Left.Created+run.Left.Updated+run.Right.Created+run.Right.Updated != 0 {
		t.Fatalf("second run wrote: %+v", run)
	}
	if !reflect.DeepEqual(byEmail(crm.rows("contacts")), crm1) || !reflect.DeepEqual(byEmail(news.rows("subscribers")), news1) {
		t.Fatal("second run changed rows (updated_at moved)")
	}

	// Grouped errors with record, field, value and hint.
	var groups []errGroup
	okJSON(t, home, &groups, "sync", "errors", "cn")
	mi, va := group(groups, "missing_identifier"), group(groups, "validation")
	if len(groups) != 2 || mi == nil || va == nil {
		t.Fatalf("errors: %+v", groups)
	}
	if mi.Count != 1 || mi.Records[0].Side != "left" || mi.Records[0].RecordID != "3" || !strings.Contains(mi.Hint, "match key") {
		t.Errorf("missing_identifier: %+v", mi)
	}
	if va.Count != 1 || va.Records[0].RecordID != "4" || va.Records[0].Field != "email" || va.Records[0].Value != "not-an-email" || va.Hint == "" {
		t.Errorf("validation: %+v", va)
	}
	okJSON(t, home, &groups, "sync", "errors", "cn", "--category", "validation")
	if len(groups) != 1 || groups[0].Category != "validation" {
		t.Errorf("errors --category validation: %+v", groups)
	}
	r = ok(t, home, "sync", "errors", "cn")
	if !strings.Contains(r.stdout, "missing_identifier: 1 record") || !strings.Contains(r.stdout, "fix: "+mi.Hint) ||
		!strings.Contains(r.stdout, `left 4 email="not-an-email"`) {
		t.Errorf("errors text:\n%s", r.stdout)
	}

	// Updates on each side flow; a conflict is settled by prefer-left; a
	// manual field waits for the admin.
	ts := stamp()
	crm.exec(`UPDATE contacts SET last_name = 'Archer-Smith', updated_at = ? WHERE email = 'ann@example.com'`, ts)
	news.exec(`UPDATE subscribers SET firstname = 'Robert', updated_at = ? WHERE email = 'bob@example.com'`, ts)
	crm.exec(`UPDATE contacts SET first_name = 'Gustav', updated_at = ? WHERE email = 'gus@example.com'`, ts)
	news.exec(`UPDATE subscribers SET firstname = 'Gussie', updated_at = ? WHERE email = 'gus@example.com'`, ts)
	crm.exec(`UPDATE contacts SET phone = '555-1000', updated_at = ? WHERE email = 'fay@example.com'`, ts)
	news.exec(`UPDATE subscribers SET telephoneNumber = '555-2000', updated_at = ? WHERE email = 'FAY@Example.com'`, ts)
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Left.Updated != 1 || run.Right.Updated != 2 || run.Left.Conflicts != 1 {
		t.Errorf("update run: %+v", run)
	}
	crm2, news2 := byEmail(crm.rows("contacts")), byEmail(news.rows("subscribers"))
	checkRow(t, "news ann", news2["ann@example.com"], row{"lastname": "Archer-Smith"})
	checkRow(t, "crm bob", crm2["bob@example.com"], row{"first_name": "Robert"})
	checkRow(t, "crm gus", crm2["gus@example.com"], row{"first_name": "Gustav"})
	checkRow(t, "news gus", news2["gus@example.com"], row{"firstname": "Gustav"})
	checkRow(t, "crm fay", crm2["fay@example.com"], row{"phone": "555-1000"})
	checkRow(t, "news fay", news2["fay@example.com"], row{"telephoneNumber": "555-2000"})

	var confl []struct {
		ID, Field   string
		Left, Right any
	}
	okJSON(t, home, &confl, "sync", "conflicts", "cn")
	if len(confl) != 1 || confl[0].Field != "phone=telephoneNumber" || confl[0].Left != "555-1000" || confl[0].Right != "555-2000" {
		t.Fatalf("conflicts: %+v", confl)
	}
	fails(t, home, "--take left or --take right", "sync", "resolve", "cn", confl[0].ID)
	r = ok(t, home, "sync", "resolve", "cn", confl[0].ID[:8], "--take", "right")
	if want := `wrote the right value "555-2000" to the left record 6's phone`; !strings.Contains(r.stdout, want) {
		t.Errorf("resolve said %q, want %q", r.stdout, want)
	}
	checkRow(t, "crm fay after resolve", byEmail(crm.rows("contacts"))["fay@example.com"], row{"phone": "555-2000"})
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Writes != 0 || run.Left.Conflicts != 0 {
		t.Errorf("run after resolve: %+v", run)
	}
	okJSON(t, home, &confl, "sync", "conflicts", "cn")
	if len(confl) != 0 {
		t.Errorf("conflict still open: %+v", confl)
	}

	// The records this sync created, to verify it.
	var created []struct {
		Side, Op string
		RecordID string `json:"record_id"`
		Fields   map[string]any
	}
	okJSON(t, home, &created, "sync", "records", "cn", "--created")
	got := map[string]string{}
	for _, c := range created {
		got[fmt.Sprint(c.Fields["email"])] = c.Side
		if c.Op != "create" {
			t.Errorf("records --created listed a %s", c.Op)
		}
	}
	if !reflect.DeepEqual(got, map[string]string{"ann@example.com": "right", "bob@example.com": "right", "gus@example.com": "left"}) {
		t.Errorf("records --created: %+v", created)
	}
	okJSON(t, home, &created, "sync", "records", "cn", "--created", "--side", "left", "--since", "1h")
	if len(created) != 1 || created[0].RecordID != crm2["gus@example.com"]["id"] {
		t.Errorf("records --created --side left: %+v", created)
	}

	// Status totals agree with what the runs did.
	var status struct {
		State   string
		Runs    int
		LastRun struct{ Status string } `json:"last_run"`
		Records struct {
			Linked, Syncing, Excluded, Failing int
		}
		Errors    map[string]int
		Conflicts int
		Totals    struct {
			Left, Right struct{ Created, Updated, Deleted int }
		}
	}
	okJSON(t, home, &status, "sync", "status", "cn")
	if status.Runs != 4 || status.LastRun.Status != "ok" || status.Records.Linked != 4 || status.Records.Syncing != 4 ||
		status.Records.Failing != 2 || status.Conflicts != 0 ||
		!reflect.DeepEqual(status.Errors, map[string]int{"missing_identifier": 1, "validation": 1}) {
		t.Errorf("status: %+v", status)
	}
	if tl, tr := status.Totals.Left, status.Totals.Right; tl.Created != 1 || tr.Created != 2 || tl.Updated != 2 || tr.Updated != 3 ||
		tl.Deleted != 0 || tr.Deleted != 0 {
		t.Errorf("status totals: %+v", status.Totals)
	}

	r = ok(t, home, "sync", "status", "cn")
	for _, want := range []string{"Sync cn (draft): crm/contacts ⇄ news/subscribers", "4 linked: 4 syncing", "2 failing",
		"1 missing_identifier, 1 validation", "Totals over 4 runs:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status text lacks %q:\n%s", want, r.stdout)
		}
	}

	// A write the app refuses is reported; `sync retry --record` retries it
	// now. (This sync reads full every run, as deletes propagate and SQLite
	// has no tombstones, so a plain run would retry it as well.)
	news.exec(`CREATE TRIGGER no_hal BEFORE INSERT ON subscribers WHEN NEW.firstname = 'Hal'
		BEGIN SELECT RAISE(ABORT, 'no Hal here'); END`)
	crm.exec(`INSERT INTO contacts (id, email, first_name, last_name, lifecycle_stage, updated_at)
		VALUES (8, 'hal@example.com', 'Hal', 'Hart', 'lead', ?)`, stamp())
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Right.Failed != 1 || run.Right.Created != 0 {
		t.Errorf("refused create: %+v", run)
	}
	news.exec(`DROP TRIGGER no_hal`)
	fails(t, home, "record 99 has no errors in sync cn", "sync", "retry", "cn", "--record", "99")
	okJSON(t, home, &run, "sync", "retry", "cn", "--record", "8")
	if run.Right.Created != 1 || run.Writes != 1 {
		t.Errorf("retry --record 8: %+v", run)
	}
	checkRow(t, "news hal", byEmail(news.rows("subscribers"))["hal@example.com"], row{"firstname": "Hal", "stage": "Lead"})

	// A database that is gone: the run fails (exit 1) with the reason, and
	// it is one error on the connection, not one per record.
	away := crm.path + ".away"
	if err := os.Rename(crm.path, away); err != nil {
		t.Fatal(err)
	}
	r = datasync(t, home, nil, "sync", "run", "cn")
	if r.code != 1 || !strings.Contains(r.stderr, "the run did not complete") || !strings.Contains(r.stderr, "unreachable") {
		t.Fatalf("run without the crm database: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	okJSON(t, home, &groups, "sync", "errors", "cn", "--category", "unreachable")
	if len(groups) != 1 || groups[0].Count != 1 || groups[0].Records[0].RecordID != "" || groups[0].Records[0].Side != "left" {
		t.Errorf("unreachable errors: %+v", groups)
	}
	if err := os.Rename(away, crm.path); err != nil {
		t.Fatal(err)
	}

	// Mass-delete safety: most linked subscribers vanish; the run stops and
	// deletes nothing unless forced.
	news.exec(`DELETE FROM subscribers WHERE email IN ('ann@example.com', 'bob@example.com', 'gus@example.com')`)
	crmBefore := crm.rows("contacts")
	r = datasync(t, home, nil, "sync", "run", "cn")
	if r.code != 1 || !strings.Contains(r.stderr, "safety stop") || !strings.Contains(r.stderr, "--force-deletes") {
		t.Fatalf("mass delete not stopped: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !reflect.DeepEqual(crm.rows("contacts"), crmBefore) {
		t.Fatal("a stopped run deleted CRM rows")
	}
	okJSON(t, home, &run, "sync", "run", "cn", "--force-deletes")
	if run.Status != "ok" || run.Left.Deleted != 3 {
		t.Errorf("forced run: %+v", run)
	}
	left := byEmail(crm.rows("contacts"))
	for _, gone := range []string{"ann@example.com", "bob@example.com", "gus@example.com"} {
		if _, ok := left[gone]; ok {
			t.Errorf("%s not deleted from the CRM", gone)
		}
	}
	if _, ok := left["fay@example.com"]; !ok {
		t.Error("fay was deleted")
	}

	// What sync map says the next run does: a mapping removed leaves the
	// records in step alone; mapped again, every linked record is merged
	// again for it (engine's TestRemovedMappingKeepsVersionsTrusted shows
	// the runs do so), and it says how many.
	if r := ok(t, home, "sync", "map", "cn", "--remove", "last_name"); !strings.Contains(r.stdout, "Records in step stay as they are") {
		t.Errorf("a mapping removed does not say what the next run does:\n%s", r.stdout)
	}
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Writes != 0 {
		t.Errorf("run after a mapping was removed: %+v; want nothing written", run)
	}
	if r := ok(t, home, "sync", "map", "cn", "--add", "last_name=lastname"); !strings.Contains(r.stdout, "merges all 2 linked records again") {
		t.Errorf("a mapping added does not say what the next run does:\n%s", r.stdout)
	}
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Writes != 0 || run.Left.Unchanged != 2 {
		t.Errorf("run after the mapping came back: %+v; want the 2 linked records merged, nothing written", run)
	}

	// State changes and deletion.
	ok(t, home, "sync", "activate", "cn")
	okJSON(t, home, &list, "sync", "list")
	if len(list) != 1 || list[0]["state"] != "active" {
		t.Errorf("list after activate: %v", list)
	}
	ok(t, home, "sync", "pause", "cn")
	fails(t, home, "connection crm is used by sync(s) cn", "connection", "remove", "crm")
	ok(t, home, "sync", "delete", "cn")
	fails(t, home, "sync cn does not exist", "sync", "show", "cn")
}

// checkRow fails unless r has every column of want.
func checkRow(t *testing.T, what string, r row, want row) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no such row", what)
		return
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s: %s = %q, want %q (row %v)", what, k, r[k], v, r)
		}
	}
}

func TestSyncHelpTeaches(t *testing.T) {
	home := t.TempDir()
	for _, cmd := range []string{"create", "map", "show", "list", "plan", "run", "retry", "status", "errors",
		"records", "activate", "pause", "delete", "conflicts", "resolve", "deletes", "set"} {
		r := ok(t, home, "sync", cmd, "--help")
		if !strings.Contains(r.stdout, "Examples:\n") || !strings.Contains(r.stdout, "datasync sync "+cmd) {
			t.Errorf("sync %s --help has no examples:\n%s", cmd, r.stdout)
		}
	}
}

// contactsSync is a home with the sqlite plugin, a CRM of n contacts
// (emails p1@example.com …), an empty newsletter, and sync cn between
// them, created with flags besides the default mappings.
func contactsSync(t *testing.T, n int, flags ...string) (home string, crm, news sqliteDB) {
	t.Helper()
	home = t.TempDir()
	crm = newDB(t, "crm.db", crmSchema)
	news = newDB(t, "news.db", newsSchema)
	crm.exec(`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?)
		INSERT INTO contacts (email, first_name, last_name, updated_at)
		SELECT 'p' || i || '@example.com', 'First' || i, 'Last' || i, '2026-01-01 00:00:00.000000' FROM seq`, n)
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)
	ok(t, home, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)
	ok(t, home, append([]string{"sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers",
		"--default-mappings"}, flags...)...)
	return home, crm, news
}

// onceEach fails the test if two rows share an email.
func onceEach(t *testing.T, rows map[string]row) {
	t.Helper()
	emails := map[string]bool{}
	for _, r := range rows {
		if emails[r["email"]] {
			t.Fatalf("%s created twice", r["email"])
		}
		emails[r["email"]] = true
	}
}

// TestSyncRunInterrupted stops `sync run` with SIGINT while it writes: it
// exits 1 saying so, no plugin outlives it, and the next run completes
// the job without creating anything twice.
func TestSyncRunInterrupted(t *testing.T) {
	const n = 5000
	home, crm, news := contactsSync(t, n)

	cmd := exec.Command(bins.datasync, "--home", home, "sync", "run", "cn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var plugins []int
	for deadline := time.Now().Add(10 * time.Second); len(plugins) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		plugins = plugins[:0]
		for _, c := range children(cmd.Process.Pid) {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", c)); strings.HasSuffix(exe, "datasync-connector-sqlite") {
				plugins = append(plugins, c)
			}
		}
	}
	if len(plugins) < 2 {
		t.Fatalf("plugins under datasync: %v; stderr:\n%s", plugins, stderr.String())
	}
	// Interrupt once the first batch of creates is in.
	for deadline := time.Now().Add(30 * time.Second); len(news.rows("subscribers")) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("datasync did not exit after SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %d after SIGINT, stderr:\n%s", code, stderr.String())
	}
	for _, p := range plugins {
		for deadline := time.Now().Add(5 * time.Second); alive(p) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(p) {
			syscall.Kill(p, syscall.SIGKILL)
			t.Errorf("plugin %d outlived the interrupted run", p)
		}
	}
	written := len(news.rows("subscribers"))
	if written == 0 || written >= n {
		t.Logf("the signal came outside the writes (%d rows written): the resumption below is trivial", written)
	}

	var run runOut
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Right.Created != n-written {
		t.Fatalf("run after the interruption (which wrote %d): %+v", written, run)
	}
	rows := news.rows("subscribers")
	onceEach(t, rows)
	if len(rows) != n || len(crm.rows("contacts")) != n {
		t.Fatalf("after resuming: %d subscribers, %d contacts; want %d each (interrupted run wrote %d)",
			len(rows), len(crm.rows("contacts")), n, written)
	}
}

// TestSyncRunKilled kills `sync run` (SIGKILL) while it writes. Each
// record the killed run created then changes on the right. The next run
// settles the creates the killed one made but did not link, with the base
// they were created with (worked out again from their source records, as
// the journal holds none): their change is one-sided and flows back,
// although the rule prefers the left's values. It creates the rest once.
func TestSyncRunKilled(t *testing.T) {
	const n = 20000
	home, crm, news := contactsSync(t, n, "--conflict", "prefer-left")

	cmd := exec.Command(bins.datasync, "--home", home, "sync", "run", "cn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); len(news.rows("subscribers")) == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	plugins := children(cmd.Process.Pid)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, p := range plugins {
		for deadline := time.Now().Add(5 * time.Second); alive(p) && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		syscall.Kill(p, syscall.SIGKILL) // a plugin's own exit is TestNoPluginOutlivesTheCLI's
	}
	written := len(news.rows("subscribers"))
	news.exec(`UPDATE subscribers SET firstname = firstname || '!', updated_at = ?`,
		time.Now().UTC().Add(time.Second).Format("2006-01-02 15:04:05.000000"))

	var run struct {
		runOut
		Settled int
	}
	okJSON(t, home, &run, "sync", "run", "cn")
	t.Logf("the killed run wrote %d of %d; the next one settled %d of them", written, n, run.Settled)
	if written == n || run.Settled == 0 {
		t.Logf("the kill came outside a batch's write and commit: nothing to settle")
	}
	if run.Status != "ok" || run.Right.Created != n-written || run.Right.Updated != 0 || run.Left.Updated != written {
		t.Fatalf("run after the kill (which wrote %d): %+v; want %d created on the right and the %d changed there copied left",
			written, run, n-written, written)
	}
	rows := news.rows("subscribers")
	onceEach(t, rows)
	if len(rows) != n {
		t.Fatalf("after the kill and a run: %d subscribers, want %d", len(rows), n)
	}
	changed := 0
	for _, r := range crm.rows("contacts") {
		if strings.HasSuffix(r["first_name"], "!") {
			changed++
		}
	}
	if changed != written {
		t.Fatalf("%d contacts took their subscriber's change, want %d", changed, written)
	}
	var after runOut
	if okJSON(t, home, &after, "sync", "run", "cn"); after.Writes != 0 {
		t.Fatalf("the run after wrote: %+v", after)
	}
}

// TestSyncQueuedDeletes: with --deletes queue a delete waits for approval;
// approving it deletes the partner record.
func TestSyncQueuedDeletes(t *testing.T) {
	home := t.TempDir()
	crm := newDB(t, "crm.db", crmSchema)
	news := newDB(t, "news.db", newsSchema)
	for i, e := range []string{"ann@example.com", "bob@example.com", "cat@example.com"} {
		crm.exec(`INSERT INTO contacts (id, email, first_name, updated_at) VALUES (?, ?, ?, ?)`, i+1, e, "N"+e[:3], stamp())
	}
	ok(t, home, "plugin", "install", bins.sqlite)
	ok(t, home, "connection", "add", "crm", "--plugin", "sqlite", "--set", "path="+crm.path)
	ok(t, home, "connection", "add", "news", "--plugin", "sqlite", "--set", "path="+news.path)
	ok(t, home, "sync", "create", "cn", "--left", "crm/contacts", "--right", "news/subscribers", "--default-mappings",
		"--deletes", "queue")
	var run runOut
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Right.Created != 3 {
		t.Fatalf("first run: %+v", run)
	}
	news.exec(`DELETE FROM subscribers WHERE email = 'bob@example.com'`)
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Left.Queued != 1 || run.Left.Deleted != 0 {
		t.Fatalf("run after a delete: %+v", run)
	}
	if _, ok := byEmail(crm.rows("contacts"))["bob@example.com"]; !ok {
		t.Fatal("a queued delete was carried out")
	}
	var queued []struct {
		ID, Side string
		RecordID string `json:"record_id"`
	}
	okJSON(t, home, &queued, "sync", "deletes", "cn")
	if len(queued) != 1 || queued[0].Side != "left" || queued[0].RecordID != "2" {
		t.Fatalf("queued deletes: %+v", queued)
	}
	fails(t, home, "has no queued delete nope", "sync", "deletes", "cn", "--approve", "nope")
	if r := ok(t, home, "sync", "deletes", "cn", "--approve", queued[0].ID[:6]); !strings.Contains(r.stdout, "Deleted 1 record") {
		t.Errorf("approve said: %s", r.stdout)
	}
	left := byEmail(crm.rows("contacts"))
	if _, ok := left["bob@example.com"]; ok || len(left) != 2 {
		t.Fatalf("after approval: %v", left)
	}
	okJSON(t, home, &queued, "sync", "deletes", "cn")
	if len(queued) != 0 {
		t.Errorf("still queued: %+v", queued)
	}
	okJSON(t, home, &run, "sync", "run", "cn")
	if run.Status != "ok" || run.Writes != 0 {
		t.Errorf("run after approval: %+v", run)
	}
}

// TestSyncRunPluginCrash: a plugin that panics mid-read fails the run
// (exit 1, "crashed") and nothing is written to the other side.
func TestSyncRunPluginCrash(t *testing.T) {
	home := t.TempDir()
	items := newDB(t, "items.db", `CREATE TABLE items (id INTEGER PRIMARY KEY, title TEXT, n INTEGER, updated_at TEXT)`)
	ok(t, home, "plugin", "install", bins.tiny)
	ok(t, home, "plugin", "install", bins.sqlite)
	addTiny(t, home, "tk")
	ok(t, home, "connection", "add", "db", "--plugin", "sqlite", "--set", "path="+items.path)
	ok(t, home, "sync", "create", "boom", "--left", "tk/boom", "--right", "db/items", "--match", "title=title",
		"--default-mappings", "--create-in", "right")
	r := datasync(t, home, nil, "sync", "run", "boom")
	if r.code != 1 || !strings.Contains(r.stderr, "the run did not complete: left side (tk): read boom: plugin tiny crashed: panic: boom") {
		t.Fatalf("run with a crashing plugin: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if n := len(items.rows("items")); n != 0 {
		t.Fatalf("a crashed run wrote %d rows", n)
	}
	var status struct {
		LastRun struct{ Status, Error string } `json:"last_run"`
	}
	okJSON(t, home, &status, "sync", "status", "boom")
	if status.LastRun.Status != "failed" || !strings.Contains(status.LastRun.Error, "crashed") {
		t.Errorf("status after the crash: %+v", status)
	}
}

// TestSyncCreatePrompts: on a terminal, sync create asks for the sides it
// was not given (script(1) provides the pseudo-terminal).
func TestSyncCreatePrompts(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) not installed: no pseudo-terminal to test prompts with")
	}
	home := t.TempDir()
	fails(t, home, "--left and --right are required", "sync", "create", "cn")
	line := fmt.Sprintf("%s --home %s sync create cn", bins.datasync, home)
	cmd := exec.Command(scriptBin, "-qec", line, "/dev/null")
	cmd.Env = append(os.Environ(), "TERM=dumb")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(out.String(), s) {
				return
			}
		}
		t.Fatalf("no prompt %q; output:\n%s", s, out.String())
	}
	waitFor("Left side (left)")
	fmt.Fprintln(stdin, "nope/contacts")
	waitFor("Right side (right)")
	fmt.Fprintln(stdin, "news/subscribers")
	cmd.Wait()
	// The answers were taken: the sides are checked next.
	if !strings.Contains(out.String(), "connection nope does not exist") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// TestSyncRunRefusedWhileTheSyncRuns: `sync run` takes the sync's lease, as
// the daemon's runs do. Held by another process (here taken in the test,
// as another machine's daemon would), the run is refused, naming it, and
// changes nothing; released, the run goes.
func TestSyncRunRefusedWhileTheSyncRuns(t *testing.T) {
	home, _, news := contactsSync(t, 5)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(home, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := st.AcquireLease(ctx, "cn", "elsewhere.example:4242", time.Hour, false, "")
	if err != nil {
		t.Fatal(err)
	}
	fails(t, home, "sync cn is being run by elsewhere.example:4242", "sync", "run", "cn")
	if out := ok(t, home, "sync", "status", "cn").stdout; !strings.Contains(out, "Running:   now, by elsewhere.example:4242") {
		t.Fatalf("sync status while the lease is held does not say who runs it:\n%s", out)
	}
	if n := len(news.rows("subscribers")); n != 0 {
		t.Fatalf("%d subscribers after a refused run, want 0", n)
	}
	if err := st.ReleaseLease(ctx, l, time.Time{}); err != nil {
		t.Fatal(err)
	}
	ok(t, home, "sync", "run", "cn")
	var status map[string]any
	if err := json.Unmarshal([]byte(ok(t, home, "sync", "status", "cn", "--json").stdout), &status); err != nil {
		t.Fatal(err)
	}
	if by, held := status["running_by"]; held {
		t.Fatalf("sync status after the run says it is run by %v", by)
	}
	if n := len(news.rows("subscribers")); n != 5 {
		t.Fatalf("%d subscribers after the run, want 5", n)
	}
}
