package testsvc

import (
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// SlapdEnv is a running OpenLDAP slapd with an mdb database for BaseDN (dc=example,dc=com),
// BindDN as its root DN, and an empty PeopleDN (ou=people) for inetOrgPerson entries.
type SlapdEnv struct {
	URL          string // ldap://127.0.0.1:PORT
	Host         string
	Port         int
	BaseDN       string
	BindDN       string
	BindPassword string
	PeopleDN     string
	Dir          string // service directory: log, env, slapd.d, db
}

// Slapd returns an OpenLDAP server for t: the shared one when DATASYNC_TESTSVC_DIR is set,
// else a fresh one stopped when t ends. Tests that write should use CreateOU.
func Slapd(t testing.TB) SlapdEnv {
	t.Helper()
	env, dir := start(t, "slapd")
	f := fields{t, "slapd", env}
	return SlapdEnv{
		URL:          f.str("LDAP_URL"),
		Host:         f.str("LDAP_HOST"),
		Port:         f.port("LDAP_PORT"),
		BaseDN:       f.str("LDAP_BASE_DN"),
		BindDN:       f.str("LDAP_BIND_DN"),
		BindPassword: f.str("LDAP_BIND_PASSWORD"),
		PeopleDN:     f.str("LDAP_PEOPLE_DN"),
		Dir:          dir,
	}
}

// CreateOU creates an empty organizational unit under env.BaseDN for t alone and returns its
// DN. It is deleted, with everything below it, when t ends.
func CreateOU(t testing.TB, env SlapdEnv) string {
	t.Helper()
	name := uniqueName(t, "t", 64)
	dn := "ou=" + ldap.EscapeDN(name) + "," + env.BaseDN
	conn := bindRoot(t, env)
	defer conn.Close()
	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"organizationalUnit"})
	add.Attribute("ou", []string{name})
	if err := conn.Add(add); err != nil {
		t.Fatalf("testsvc: add %s: %v", dn, err)
	}
	t.Cleanup(func() { deleteTree(t, env, dn) })
	return dn
}

func bindRoot(t testing.TB, env SlapdEnv) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(env.URL)
	if err != nil {
		t.Fatalf("testsvc: dial %s: %v", env.URL, err)
	}
	if err := conn.Bind(env.BindDN, env.BindPassword); err != nil {
		conn.Close()
		t.Fatalf("testsvc: bind %s: %v", env.BindDN, err)
	}
	return conn
}

// deleteTree removes dn and its subtree, deepest entries first (slapd has no tree delete).
func deleteTree(t testing.TB, env SlapdEnv, dn string) {
	t.Helper()
	conn := bindRoot(t, env)
	defer conn.Close()
	res, err := conn.SearchWithPaging(ldap.NewSearchRequest(dn, ldap.ScopeWholeSubtree,
		ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil), 500)
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return
		}
		t.Errorf("testsvc: list %s to delete it: %v", dn, err)
		return
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	sort.Slice(dns, func(i, j int) bool { return strings.Count(dns[i], ",") > strings.Count(dns[j], ",") })
	for _, d := range dns {
		if err := conn.Del(ldap.NewDelRequest(d, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			t.Errorf("testsvc: delete %s: %v", d, err)
		}
	}
}
