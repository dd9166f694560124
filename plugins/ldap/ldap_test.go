package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
	"github.com/go-ldap/ldap/v3"
)

const objName = "inetOrgPerson"

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "datasync-connector-ldap")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// config reaches a fresh OU of the test server.
func config(t *testing.T, env testsvc.SlapdEnv) sdk.Config {
	return sdk.Config{
		Settings: map[string]string{"url": env.URL, "bind_dn": env.BindDN, "base_dn": testsvc.CreateOU(t, env), "watch_poll": "200ms"},
		Secrets:  map[string]string{"password": env.BindPassword},
	}
}

func newRecord(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		"cn":              sdk.String(fmt.Sprintf("Ada Lovelace %d", i)),
		"sn":              sdk.String(fmt.Sprintf("Lovelace %d", i)),
		"givenName":       sdk.String("Ada"),
		"mail":            sdk.String(fmt.Sprintf("ada%d@example.com", i)),
		"telephoneNumber": sdk.String("+44 20 7946 0000"),
		"o":               sdk.String("Analytical Engines"),
		"displayName":     sdk.String(fmt.Sprintf("Ada %d", i)),
	}
}

func update(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		"title": sdk.String(fmt.Sprintf("Countess %d", i)),
		"mail":  sdk.String(fmt.Sprintf("countess%d@example.org", i)),
		"l":     sdk.String("Ockham"),
	}
}

// The real binary over go-plugin against slapd.
func TestConformance(t *testing.T) {
	env := testsvc.Slapd(t)
	rc, kill, err := sdk.LaunchPlugin(context.Background(), build(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kill)
	cfg := config(t, env)
	bad := sdk.Config{Settings: cfg.Settings, Secrets: map[string]string{"password": "wrong"}}
	conformance.Run(t, conformance.Harness{
		Connector: rc,
		Config:    cfg,
		BadConfig: &bad,
		Object:    objName,
		NewRecord: newRecord,
		Update:    update,
		// mail is an IA5String: slapd refuses non-ASCII.
		Invalid:       map[string]sdk.Value{"cn": sdk.String("Bad Mail"), "sn": sdk.String("Mail"), "mail": sdk.String("bäd@exämple.com")},
		InvalidField:  "mail",
		LookupField:   "mail",
		UnicodeFields: []string{"cn", "sn", "givenName", "title", "description", "l", "o", "ou", "street"},
		NullFields:    []string{"title", "description", "l", "mail", "telephoneNumber", "givenName", "o", "displayName"},
	})
}

// open opens the connector in process on a fresh OU.
func open(t *testing.T, env testsvc.SlapdEnv) (*conn, string) {
	t.Helper()
	cfg := config(t, env)
	c, err := New().Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cc := c.(*conn)
	if _, err := cc.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	return cc, cfg.Settings["base_dn"]
}

// rawConn is another client of the directory.
func rawConn(t *testing.T, env testsvc.SlapdEnv) *ldap.Conn {
	t.Helper()
	lc, err := ldap.DialURL(env.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.Close() })
	if err := lc.Bind(env.BindDN, env.BindPassword); err != nil {
		t.Fatal(err)
	}
	return lc
}

func create(t *testing.T, c sdk.Conn, recs ...map[string]sdk.Value) []sdk.WriteResult {
	t.Helper()
	ops := make([]sdk.Op, len(recs))
	for i, r := range recs {
		ops[i] = conformance.CreateOp(r)
	}
	res, err := conformance.WriteOps(context.Background(), c, objName, ops...)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	return res
}

func readAll(t *testing.T, c sdk.Conn, cursor string, fields ...string) *conformance.Collector {
	t.Helper()
	col, err := conformance.ReadAll(context.Background(), c, sdk.ReadRequest{Object: objName, Cursor: cursor, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	return col
}

// dnOf returns the DN of a record id.
func dnOf(t *testing.T, c *conn, id string) string {
	t.Helper()
	e, err := c.fetch(context.Background(), c.object, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.DN
}

func TestSlapd(t *testing.T) {
	env := testsvc.Slapd(t)
	ctx := context.Background()

	t.Run("Schema", func(t *testing.T) {
		c, _ := open(t, env)
		sch, err := c.Schema(ctx)
		if err != nil {
			t.Fatal(err)
		}
		obj, ok := sch.Object(objName)
		if !ok {
			t.Fatalf("objects %v, want %s", sch.ObjectNames(), objName)
		}
		want := map[string]sdk.Field{
			"cn":              {Name: "cn", Label: "cn", Type: sdk.TypeString, Required: true, Unique: true, MaxLength: 32768},
			"sn":              {Name: "sn", Label: "sn", Type: sdk.TypeString, Required: true, MaxLength: 32768},
			"mail":            {Name: "mail", Label: "mail", Type: sdk.TypeEmail, MaxLength: 256},
			"mail_values":     {Name: "mail_values", Label: "mail (all values)", Type: sdk.TypeStringList, ReadOnly: true},
			"telephoneNumber": {Name: "telephoneNumber", Label: "telephoneNumber", Type: sdk.TypePhone, MaxLength: 32},
			"displayName":     {Name: "displayName", Label: "displayName", Type: sdk.TypeString},
			"givenName":       {Name: "givenName", Label: "givenName", Type: sdk.TypeString, MaxLength: 32768},
		}
		for name, w := range want {
			got, ok := obj.Field(name)
			if !ok {
				t.Errorf("no field %s", name)
				continue
			}
			if !fieldEqual(got, w) {
				t.Errorf("field %s = %+v, want %+v", name, got, w)
			}
		}
		if f, ok := obj.Field("dn"); !ok || !f.ReadOnly || obj.Fields[0].Name != "dn" {
			t.Errorf("field dn: %+v, want a read-only first field", f)
		}
		for _, absent := range []string{"objectClass", "userPassword", "jpegPhoto", "userCertificate", "audio"} {
			if _, ok := obj.Field(absent); ok {
				t.Errorf("field %s should be left out", absent)
			}
		}
		if !obj.Incremental || obj.Tombstones {
			t.Errorf("incremental %v, tombstones %v; want true, false", obj.Incremental, obj.Tombstones)
		}
	})

	t.Run("IncrementalSeesModify", func(t *testing.T) {
		c, _ := open(t, env)
		res := create(t, c, newRecord(1), newRecord(2))
		full := readAll(t, c, "", "title")
		if len(full.All) != 2 {
			t.Fatalf("full read: %d records, want 2", len(full.All))
		}
		// Another client modifies one entry, within the same second or not.
		mod := ldap.NewModifyRequest(dnOf(t, c, res[1].ID), nil)
		mod.Replace("title", []string{"Engineer"})
		if err := rawConn(t, env).Modify(mod); err != nil {
			t.Fatal(err)
		}
		inc := readAll(t, c, full.Cursor, "title")
		if len(inc.All) != 1 || inc.All[0].ID != res[1].ID || inc.All[0].Values[0].Str != "Engineer" {
			t.Fatalf("read after a modify: %+v, want only %s with the new title", inc.All, res[1].ID)
		}
		if inc.All[0].Version == res[1].Version {
			t.Errorf("version %q did not change with the modify", inc.All[0].Version)
		}
		if again := readAll(t, c, inc.Cursor, "title"); len(again.All) != 0 {
			t.Errorf("read with nothing changed: %d records", len(again.All))
		}
		// A later second: still seen.
		time.Sleep(1100 * time.Millisecond)
		mod.Replace("title", []string{"Manager"})
		if err := rawConn(t, env).Modify(mod); err != nil {
			t.Fatal(err)
		}
		if later := readAll(t, c, inc.Cursor, "title"); len(later.All) != 1 || later.All[0].Values[0].Str != "Manager" {
			t.Errorf("read a second later: %+v, want the new title", later.All)
		}
	})

	t.Run("PagedSearch", func(t *testing.T) {
		c, _ := open(t, env)
		const n = 25
		recs := make([]map[string]sdk.Value, n)
		for i := range recs {
			recs[i] = newRecord(100 + i)
		}
		create(t, c, recs...)
		c.pageSize = 7
		pages, err := c.search(ctx, c.baseFilter(c.object, ""), []string{"cn"}, func([]*ldap.Entry) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if pages != 4 {
			t.Errorf("%d entries in pages of 7: %d pages, want 4", n, pages)
		}
		got := readAll(t, c, "", "cn")
		ids := map[string]bool{}
		for _, r := range got.All {
			ids[r.ID] = true
		}
		if len(got.All) != n || len(ids) != n {
			t.Errorf("paged read: %d records (%d distinct), want %d", len(got.All), len(ids), n)
		}
	})

	t.Run("RenameAndKeepOtherValues", func(t *testing.T) {
		c, base := open(t, env)
		dn := "cn=Grace Hopper," + base
		add := ldap.NewAddRequest(dn, nil)
		add.Attribute("objectClass", []string{"inetOrgPerson"})
		add.Attribute("cn", []string{"Grace Hopper", "Amazing Grace"})
		add.Attribute("sn", []string{"Hopper"})
		add.Attribute("mail", []string{"grace@navy.example", "grace@home.example"})
		lc := rawConn(t, env)
		if err := lc.Add(add); err != nil {
			t.Fatal(err)
		}
		e, err := c.fetchDN(c.object, dn, nil)
		if err != nil {
			t.Fatal(err)
		}
		id := c.object.idOf(e)
		if !uuidShape.MatchString(id) {
			t.Fatalf("id %q is not the entryUUID", id)
		}
		res, err := conformance.WriteOps(ctx, c, objName, conformance.UpdateOp(id, "", map[string]sdk.Value{
			"cn": sdk.String("Grace B. Hopper"), "mail": sdk.String("grace@hopper.example")}))
		if err != nil || res[0].Err != nil {
			t.Fatalf("update: %v %v", err, res[0].Err)
		}
		newDN := "cn=Grace B. Hopper," + base
		if res[0].ID != id {
			t.Errorf("renamed entry id %q, want the same %q", res[0].ID, id)
		}
		if got := dnOf(t, c, id); got != newDN {
			t.Errorf("DN after the update %q, want %q", got, newDN)
		}
		sr, err := lc.Search(ldap.NewSearchRequest(newDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"cn", "mail"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		e = sr.Entries[0]
		if cn := e.GetAttributeValues("cn"); !slices.Equal(cn, []string{"Grace B. Hopper", "Amazing Grace"}) {
			t.Errorf("cn = %q, want the new name first and the alias kept", cn)
		}
		if mail := e.GetAttributeValues("mail"); !slices.Equal(mail, []string{"grace@hopper.example", "grace@home.example"}) {
			t.Errorf("mail = %q, want the first replaced and the second kept", mail)
		}
		if _, err := c.fetchDN(c.object, dn, nil); sdk.CategoryOf(err) != sdk.CategoryNotFound {
			t.Errorf("old DN after the rename: %v, want not_found", err)
		}
	})

	t.Run("ConcurrentChangeIsConflict", func(t *testing.T) {
		c, _ := open(t, env)
		r := create(t, c, newRecord(7))[0]
		mod := ldap.NewModifyRequest(dnOf(t, c, r.ID), nil)
		mod.Replace("title", []string{"Changed elsewhere"})
		if err := rawConn(t, env).Modify(mod); err != nil {
			t.Fatal(err)
		}
		res, err := conformance.WriteOps(ctx, c, objName, conformance.UpdateOp(r.ID, r.Version, update(7)))
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Err == nil || res[0].Err.Category != sdk.CategoryConflict {
			t.Fatalf("update with a stale version: %v, want conflict", res[0].Err)
		}
		// The assertion control guards the gap between read and write.
		e, err := c.fetch(context.Background(), c.object, r.ID, []string{"title"})
		if err != nil {
			t.Fatal(err)
		}
		stale := ldap.NewModifyRequest(e.DN, c.object.assertCSN(e))
		stale.Replace("title", []string{"Too late"})
		if err := rawConn(t, env).Modify(mod); err != nil {
			t.Fatal(err)
		}
		err = c.write(func(lc *ldap.Conn) error { return lc.Modify(stale) })
		if sdk.CategoryOf(c.mapErr(err, "modify")) != sdk.CategoryConflict {
			t.Errorf("modify asserting an old entryCSN: %v, want conflict", err)
		}
	})

	t.Run("WriteErrors", func(t *testing.T) {
		c, base := open(t, env)
		noSN := newRecord(20)
		delete(noSN, "sn")
		res, err := conformance.WriteOps(ctx, c, objName, conformance.CreateOp(noSN))
		if err != nil {
			t.Fatal(err)
		}
		if e := res[0].Err; e == nil || e.Category != sdk.CategoryValidation || e.Field != "sn" {
			t.Errorf("create without sn: %v, want a validation error on sn", e)
		}
		// A user the ACL lets read but not write (by users read).
		reader := "cn=reader," + base
		add := ldap.NewAddRequest(reader, nil)
		add.Attribute("objectClass", []string{"inetOrgPerson"})
		add.Attribute("cn", []string{"reader"})
		add.Attribute("sn", []string{"Reader"})
		add.Attribute("userPassword", []string{"reader-secret"})
		if err := rawConn(t, env).Add(add); err != nil {
			t.Fatal(err)
		}
		cfg := sdk.Config{Settings: map[string]string{"url": env.URL, "bind_dn": reader, "base_dn": base},
			Secrets: map[string]string{"password": "reader-secret"}}
		rc, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := rc.Check(ctx); err != nil {
			t.Fatalf("check as a reader: %v", err)
		}
		res, err = conformance.WriteOps(ctx, rc, objName, conformance.CreateOp(newRecord(21)))
		if err != nil {
			t.Fatal(err)
		}
		if e := res[0].Err; e == nil || e.Category != sdk.CategoryForbidden {
			t.Errorf("create as a reader: %v, want forbidden", e)
		}
	})

	t.Run("CheckErrors", func(t *testing.T) {
		cfg := config(t, env)
		for _, tc := range []struct {
			name  string
			set   map[string]string
			cat   sdk.Category
			field string
		}{
			{"missing base DN", map[string]string{"base_dn": "ou=nope," + env.BaseDN}, sdk.CategoryValidation, "base_dn"},
			{"unknown class", map[string]string{"object_class": "noSuchClass"}, sdk.CategoryValidation, "object_class"},
			{"RDN not in class", map[string]string{"rdn_attribute": "dc"}, sdk.CategoryValidation, "rdn_attribute"},
			{"unreachable", map[string]string{"url": "ldap://127.0.0.1:1"}, sdk.CategoryUnreachable, ""},
		} {
			s := map[string]string{}
			for k, v := range cfg.Settings {
				s[k] = v
			}
			for k, v := range tc.set {
				s[k] = v
			}
			cn, err := New().Open(ctx, sdk.Config{Settings: s, Secrets: cfg.Secrets})
			if err == nil {
				_, err = cn.Check(ctx)
				cn.Close()
			}
			e := sdk.AsError(err)
			if e == nil || e.Category != tc.cat || e.Field != tc.field {
				t.Errorf("%s: %v, want %s on %q", tc.name, err, tc.cat, tc.field)
			}
		}
	})
}

func fieldEqual(a, b sdk.Field) bool {
	return a.Name == b.Name && a.Label == b.Label && a.Type == b.Type && a.Required == b.Required &&
		a.ReadOnly == b.ReadOnly && a.Unique == b.Unique && a.MaxLength == b.MaxLength
}

// An entry changed by another client is noticed within a poll, twice in
// one second too (entryCSN tells them apart); with nothing changed there
// is no notice, and entries older than the watch are not news.
func TestWatchNoticesAnotherClientsChange(t *testing.T) {
	env := testsvc.Slapd(t)
	c, _ := open(t, env)
	res := create(t, c, newRecord(1))
	c.watchPoll = 50 * time.Millisecond
	next := conformance.StartWatch(t, c, objName).Next
	if n, ok := next(10 * time.Second); !ok || n != "" {
		t.Fatalf("first notice %q (%v), want the ready notice", n, ok)
	}
	if n, ok := next(400 * time.Millisecond); ok {
		t.Fatalf("notice %q with nothing changed since the watch began", n)
	}
	lc := rawConn(t, env)
	for i := range 2 {
		m := ldap.NewModifyRequest(dnOf(t, c, res[0].ID), nil)
		m.Replace("title", []string{fmt.Sprintf("Changed %d", i)})
		if err := lc.Modify(m); err != nil {
			t.Fatal(err)
		}
		if n, ok := next(10 * time.Second); !ok || n != objName {
			t.Fatalf("notice %q (%v) after modify %d by another client, want %s", n, ok, i, objName)
		}
	}
	if n, ok := next(400 * time.Millisecond); ok {
		t.Fatalf("notice %q with nothing changed since the last", n)
	}
}
