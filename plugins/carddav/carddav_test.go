package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
	"github.com/datasync-io/datasync/sdk/conformance"
)

// build compiles this plugin into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "datasync-connector-carddav")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func launch(t *testing.T, bin string) *sdk.RemoteConnector {
	t.Helper()
	rc, kill, err := sdk.LaunchPlugin(context.Background(), bin, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kill)
	return rc
}

// config reaches a fresh address book of env's first user.
func config(t *testing.T, env testsvc.RadicaleEnv) sdk.Config {
	book := testsvc.CreateAddressBook(t, env)
	return sdk.Config{
		Settings: map[string]string{"url": env.URL, "addressbook": book, "username": env.User, "watch_poll": "200ms"},
		Secrets:  map[string]string{"password": env.Password},
	}
}

func newRecord(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		fUID:        sdk.String(fmt.Sprintf("conformance-%d", i)),
		fFullName:   sdk.String(fmt.Sprintf("Ada Lovelace %d", i)),
		fGivenName:  sdk.String("Ada"),
		fFamilyName: sdk.String(fmt.Sprintf("Lovelace %d", i)),
		fEmail:      sdk.String(fmt.Sprintf("ada%d@example.com", i)),
		fPhone:      sdk.String("+44 20 7946 0000"),
		fOrg:        sdk.String("Analytical Engines, Ltd."),
		fCity:       sdk.String("London"),
		fCountry:    sdk.String("UK"),
		fCategories: sdk.StringList("friends", "math; logic"),
		fBirthday:   sdk.Value{Kind: sdk.KindDate, Str: "1815-12-10"},
	}
}

func update(i int) map[string]sdk.Value {
	return map[string]sdk.Value{
		fTitle:  sdk.String(fmt.Sprintf("Countess %d", i)),
		fEmail:  sdk.String(fmt.Sprintf("countess%d@example.org", i)),
		fCity:   sdk.String("Ockham"),
		fStreet: sdk.String("1 Ockham Park, \"East\" wing;\nrear"),
	}
}

func harness(rc sdk.Connector, cfg sdk.Config) conformance.Harness {
	bad := sdk.Config{Settings: cfg.Settings, Secrets: map[string]string{"password": "wrong"}}
	return conformance.Harness{
		Connector: rc,
		Config:    cfg,
		BadConfig: &bad,
		Object:    objectContacts,
		NewRecord: newRecord,
		Update:    update,
		// A birthday that is not a date is refused before it reaches the server.
		Invalid:       map[string]sdk.Value{fFullName: sdk.String("Bad Date"), fBirthday: {Kind: sdk.KindDate, Str: "1815-13-45"}},
		InvalidField:  fBirthday,
		LookupField:   fEmail,
		UnicodeFields: []string{fFullName, fGivenName, fFamilyName, fOrg, fTitle, fNote, fStreet, fCity},
		EmptyFields:   []string{fFullName, fGivenName, fFamilyName, fTitle, fNote},
		NullFields:    []string{fTitle, fNote, fPhone, fOrg, fCategories, fBirthday},
		// A Radicale PUT takes ~60 ms: 210 cards span three multiget chunks
		// without a minutes-long run.
		BatchSize: 210,
	}
}

// The real binary over go-plugin against Radicale.
func TestConformance(t *testing.T) {
	env := testsvc.Radicale(t)
	rc := launch(t, build(t))
	conformance.Run(t, harness(rc, config(t, env)))
}

// rawCard fetches a card's text as the server stores it.
func rawCard(t *testing.T, env testsvc.RadicaleEnv, path string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+path, nil)
	req.SetBasicAuth(env.User, env.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return string(b)
}

// putRaw stores a card as another client would.
func putRaw(t *testing.T, env testsvc.RadicaleEnv, path, text string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, env.URL+path, strings.NewReader(text))
	req.SetBasicAuth(env.User, env.Password)
	req.Header.Set("Content-Type", "text/vcard")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s", path, resp.Status)
	}
}

func mustWrite(t *testing.T, conn sdk.Conn, ops ...sdk.Op) []sdk.WriteResult {
	t.Helper()
	res, err := conformance.WriteOps(context.Background(), conn, objectContacts, ops...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// In process: what the suite cannot see from outside.
func TestRadicale(t *testing.T) {
	env := testsvc.Radicale(t)
	ctx := context.Background()

	t.Run("UnknownPropertiesSurviveUpdate", func(t *testing.T) {
		cfg := config(t, env)
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		book := cfg.Settings["addressbook"]
		putRaw(t, env, book+"other.vcf", "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:other\r\nFN:Grace Hopper\r\n"+
			"N:Hopper;Grace;Brewster;Rear Admiral;\r\nEMAIL;TYPE=WORK:grace@navy.example\r\nEMAIL;TYPE=HOME:grace@home.example\r\n"+
			"X-SOCIALPROFILE;TYPE=twitter:https://x.example/grace\r\nitem1.X-ABLABEL:Ship\\; Harvard Mark I\r\n"+
			"ADR;TYPE=WORK:PO 1;Bldg 2;Pentagon;Arlington;VA;22202;USA\r\nEND:VCARD\r\n")
		res := mustWrite(t, conn, conformance.UpdateOp("other.vcf", "", map[string]sdk.Value{
			fEmail: sdk.String("grace@hopper.example"), fCity: sdk.String("Washington"), fGivenName: sdk.String("Amazing Grace"),
		}))
		if res[0].Err != nil {
			t.Fatal(res[0].Err)
		}
		raw := rawCard(t, env, book+"other.vcf")
		for _, want := range []string{
			"X-SOCIALPROFILE;TYPE=twitter:https://x.example/grace",
			`item1.X-ABLABEL:Ship\; Harvard Mark I`,
			"EMAIL;TYPE=WORK:grace@hopper.example", // the first EMAIL changed, keeping its TYPE
			"EMAIL;TYPE=HOME:grace@home.example",
			"N:Hopper;Amazing Grace;Brewster;Rear Admiral;",
			"ADR;TYPE=WORK:PO 1;Bldg 2;Pentagon;Washington;VA;22202;USA",
			"FN:Grace Hopper",
		} {
			if !strings.Contains(raw, want) {
				t.Errorf("after the update the card lacks %q:\n%s", want, raw)
			}
		}
	})

	t.Run("LookupByName", func(t *testing.T) {
		cfg := config(t, env)
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := mustWrite(t, conn, conformance.CreateOp(newRecord(3)), conformance.CreateOp(newRecord(4)))
		if res[0].Err != nil || res[1].Err != nil {
			t.Fatal(res[0].Err, res[1].Err)
		}
		// A name asked for twice comes once; one gone, or that is a path,
		// finds nothing (and reaches no other collection).
		got, err := conn.Lookup(ctx, sdk.LookupRequest{Object: objectContacts, Fields: []string{fEmail},
			Values: []sdk.Value{sdk.String(res[1].ID), sdk.String("missing.vcf"), sdk.String("../" + res[0].ID), sdk.String(res[1].ID)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != res[1].ID || got[0].Version != res[1].Version || got[0].Values[0].Text() != "ada4@example.com" {
			t.Fatalf("lookup by name: %+v, want card %s alone, with its email", got, res[1].ID)
		}
		if _, err := conn.Lookup(ctx, sdk.LookupRequest{Object: objectContacts, Fields: []string{"nope"}, Values: []sdk.Value{sdk.String(res[0].ID)}}); err == nil {
			t.Error("lookup by name with an unknown field: no error")
		}
	})

	t.Run("ConcurrentChangeIsConflict", func(t *testing.T) {
		cfg := config(t, env)
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := mustWrite(t, conn, conformance.CreateOp(newRecord(1)))[0]
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		// Another client changes the card: the version the host holds is stale.
		book := cfg.Settings["addressbook"]
		raw := rawCard(t, env, book+r.ID)
		putRaw(t, env, book+r.ID, strings.Replace(raw, "FN:", "NOTE:edited elsewhere\r\nFN:", 1))
		got := mustWrite(t, conn, conformance.UpdateOp(r.ID, r.Version, update(1)))[0]
		if got.Err == nil || got.Err.Category != sdk.CategoryConflict {
			t.Fatalf("update with the version from before another client's change: %v, want conflict", got.Err)
		}
		if !strings.Contains(rawCard(t, env, book+r.ID), "edited elsewhere") {
			t.Error("the other client's change was overwritten")
		}
		// The server's own precondition: a PUT with a stale If-Match is 412.
		c := asConn(t, conn)
		k, err := c.get(ctx, book+r.ID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.put(ctx, book+r.ID, k.card, map[string]string{"If-Match": `"` + r.Version + `"`})
		if httpStatus(err) != http.StatusPreconditionFailed {
			t.Fatalf("PUT with a stale If-Match: %v, want HTTP 412", err)
		}
		if cat := sdk.CategoryOf(categorize(err, "put")); cat != sdk.CategoryConflict {
			t.Errorf("HTTP 412 categorized %s, want conflict", cat)
		}
	})

	t.Run("BogusSyncTokenReadsEverything", func(t *testing.T) {
		cfg := config(t, env)
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := mustWrite(t, conn, conformance.CreateOp(newRecord(2)))[0]
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		c, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: objectContacts, Cursor: cursorSync + "http://radicale.org/ns/sync/bogus", Fields: []string{fUID}})
		if err != nil {
			t.Fatalf("read from a bogus sync-token: %v", err)
		}
		if len(c.All) != 1 || c.All[0].ID != r.ID || !strings.HasPrefix(c.Cursor, cursorSync) || c.Cursor == cursorSync+"http://radicale.org/ns/sync/bogus" {
			t.Fatalf("read from a bogus sync-token: %v, cursor %q; want the one card and a new token", c.All, c.Cursor)
		}
	})

	t.Run("ETagFallback", func(t *testing.T) {
		cfg := config(t, env)
		o, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		conn := asConn(t, o)
		conn.noSync = true // as after a server refused sync-collection
		recs := mustWrite(t, conn, conformance.CreateOp(newRecord(3)), conformance.CreateOp(newRecord(4)), conformance.CreateOp(newRecord(5)))
		full, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: objectContacts, Fields: []string{fUID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(full.All) != 3 || !strings.HasPrefix(full.Cursor, cursorETag) {
			t.Fatalf("full read: %d records, cursor %.10q; want 3 and an ETag cursor", len(full.All), full.Cursor)
		}
		mustWrite(t, conn, conformance.UpdateOp(recs[0].ID, "", update(3)), conformance.DeleteOp(recs[1].ID, ""))
		inc, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: objectContacts, Cursor: full.Cursor, Fields: []string{fTitle}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]sdk.Record{}
		for _, r := range inc.All {
			got[r.ID] = r
		}
		if len(got) != 2 || got[recs[0].ID].Values[0].Str != "Countess 3" || !got[recs[1].ID].Deleted {
			t.Fatalf("incremental read: %+v; want the update and a tombstone", inc.All)
		}
		again, err := conformance.ReadAll(ctx, conn, sdk.ReadRequest{Object: objectContacts, Cursor: inc.Cursor, Fields: []string{fTitle}})
		if err != nil || len(again.All) != 0 {
			t.Fatalf("read with nothing changed: %v, %v; want nothing", again.All, err)
		}
	})

	t.Run("Discovery", func(t *testing.T) {
		// bob has one address book: found without the setting.
		cfg := sdk.Config{Settings: map[string]string{"url": env.URL, "username": env.User2},
			Secrets: map[string]string{"password": env.Password2}}
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		acct, err := conn.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(acct.Label, env.AddressBook2) {
			t.Errorf("discovered account %q, want address book %s", acct.Label, env.AddressBook2)
		}
		// A path that is no address book names the ones that exist.
		cfg.Settings["addressbook"] = "/" + env.User2 + "/nope/"
		conn, _ = New().Open(ctx, cfg)
		_, err = conn.Check(ctx)
		if e := sdk.AsError(err); e == nil || e.Category != sdk.CategoryValidation || e.Field != "addressbook" || !strings.Contains(e.Message, env.AddressBook2) {
			t.Errorf("check of a missing address book: %v, want a validation error on addressbook naming %s", err, env.AddressBook2)
		}
	})

	t.Run("OtherUsersBookIsForbidden", func(t *testing.T) {
		cfg := sdk.Config{Settings: map[string]string{"url": env.URL, "username": env.User, "addressbook": env.AddressBook2},
			Secrets: map[string]string{"password": env.Password}}
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Check(ctx); sdk.CategoryOf(err) != sdk.CategoryForbidden {
			t.Errorf("check of another user's address book: %v, want forbidden", err)
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		cfg := sdk.Config{Settings: map[string]string{"url": "http://127.0.0.1:1/", "username": "x"},
			Secrets: map[string]string{"password": "y"}}
		conn, err := New().Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := conn.Check(ctx); sdk.CategoryOf(err) != sdk.CategoryUnreachable {
			t.Errorf("check of a closed port: %v, want unreachable", err)
		}
	})
}

func asConn(t *testing.T, c sdk.Conn) *conn {
	t.Helper()
	cc, ok := c.(*conn)
	if !ok {
		t.Fatalf("Open returned %T", c)
	}
	return cc
}

// A card stored by another client is noticed within a poll; with nothing
// changed there is no notice.
func TestWatchNoticesAnotherClientsCard(t *testing.T) {
	env := testsvc.Radicale(t)
	cfg := config(t, env)
	cfg.Settings["watch_poll"] = "50ms"
	conn, err := New().Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	next := conformance.StartWatch(t, conn.(sdk.Watcher), objectContacts).Next
	if n, ok := next(10 * time.Second); !ok || n != "" {
		t.Fatalf("first notice %q (%v), want the ready notice", n, ok)
	}
	if n, ok := next(400 * time.Millisecond); ok {
		t.Fatalf("notice %q with nothing changed", n)
	}
	putRaw(t, env, cfg.Settings["addressbook"]+"other-client.vcf",
		"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:other-client\r\nFN:Grace Hopper\r\nEND:VCARD\r\n")
	if n, ok := next(10 * time.Second); !ok || n != objectContacts {
		t.Fatalf("notice %q (%v) after another client's card, want %s", n, ok, objectContacts)
	}
}
