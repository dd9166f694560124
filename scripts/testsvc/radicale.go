package testsvc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// RadicaleEnv is a running Radicale CardDAV server with two htpasswd users, each owning an
// address book (rights: owner_only, so User cannot touch AddressBook2).
type RadicaleEnv struct {
	URL            string // http://127.0.0.1:PORT
	User           string
	Password       string
	AddressBook    string // path of User's address book, e.g. /alice/contacts/
	AddressBookURL string // URL + AddressBook
	User2          string
	Password2      string
	AddressBook2   string // path of User2's address book
	Dir            string // service directory: log, env, collections
}

// Radicale returns a Radicale server for t: the shared one when DATASYNC_TESTSVC_DIR is set,
// else a fresh one stopped when t ends. Tests that write should use CreateAddressBook.
func Radicale(t testing.TB) RadicaleEnv {
	t.Helper()
	env, dir := start(t, "radicale")
	f := fields{t, "radicale", env}
	return RadicaleEnv{
		URL:            f.str("RADICALE_URL"),
		User:           f.str("RADICALE_USER"),
		Password:       f.str("RADICALE_PASSWORD"),
		AddressBook:    f.str("RADICALE_ADDRESSBOOK"),
		AddressBookURL: f.str("RADICALE_ADDRESSBOOK_URL"),
		User2:          f.str("RADICALE_USER2"),
		Password2:      f.str("RADICALE_PASSWORD2"),
		AddressBook2:   f.str("RADICALE_ADDRESSBOOK2"),
		Dir:            dir,
	}
}

const mkcolAddressBook = `<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
    <D:displayname>%s</D:displayname>
  </D:prop></D:set>
</D:mkcol>`

// CreateAddressBook creates an empty address book owned by env.User for t alone and returns
// its path (append it to env.URL). It is deleted when t ends.
func CreateAddressBook(t testing.TB, env RadicaleEnv) string {
	t.Helper()
	name := uniqueName(t, "t", 80)
	path := "/" + env.User + "/" + name + "/"
	status, body := davRequest(t, env, "MKCOL", path, fmt.Sprintf(mkcolAddressBook, name))
	if status != http.StatusCreated {
		t.Fatalf("testsvc: MKCOL %s: HTTP %d: %s", path, status, body)
	}
	t.Cleanup(func() {
		if status, body := davRequest(t, env, "DELETE", path, ""); status/100 != 2 {
			t.Errorf("testsvc: DELETE %s: HTTP %d: %s", path, status, body)
		}
	})
	return path
}

func davRequest(t testing.TB, env RadicaleEnv, method, path, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("testsvc: %s %s: %v", method, path, err)
	}
	req.SetBasicAuth(env.User, env.Password)
	if body != "" {
		req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("testsvc: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
