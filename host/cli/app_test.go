package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/datasync-io/datasync/sdk"
)

func TestReorderArgs(t *testing.T) {
	app := (&env{}).app()
	cases := []struct {
		in, want string
	}{
		{"datasync connection add crm --plugin sqlite --set path=/x",
			"datasync connection add --plugin sqlite --set path=/x crm"},
		{"datasync connection add crm --plugin=sqlite --secret p=a,b",
			"datasync connection add --plugin=sqlite --secret p=a,b crm"},
		{"datasync plugin list --json --home /h",
			"datasync --home /h plugin list --json"},
		{"datasync --home /h connection test crm --accept-account --log-level debug",
			"datasync --home /h --log-level debug connection test --accept-account crm"},
		{"datasync connection schema crm contacts --json",
			"datasync connection schema --json crm contacts"},
		{"datasync connection add crm --plugin p -- --weird",
			"datasync connection add --plugin p crm -- --weird"},
		{"datasync plugin install ./x --help", "datasync plugin install --help ./x"},
		{"datasync plugin --help", "datasync plugin --help"},
		{"datasync nosuch --json", "datasync nosuch --json"},
		{"datasync", "datasync"},
	}
	for _, c := range cases {
		got := strings.Join(reorderArgs(app, strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("reorderArgs(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	cases := []struct {
		args string
		want string
		code int
	}{
		{"plugin info", "missing plugin NAME (see `datasync plugin info --help`)", exitUsage},
		{"plugin install a b", "expected one PATH of the plugin binary, got 2 arguments", exitUsage},
		{"connection add crm", "missing --plugin PLUGIN", exitUsage},
		{"connection add bad/name --plugin x", `connection name "bad/name"`, exitUsage},
		{"--log-level loud plugin list", `--log-level "loud"`, exitUsage},
		{"--log-format xml plugin list", `--log-format "xml"`, exitUsage},
		{"plugin info nosuch", "plugin nosuch: plugin not installed: install it with `datasync plugin install PATH`", exitError},
	}
	for _, c := range cases {
		t.Run(c.args, func(t *testing.T) {
			var out, errOut bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, interactive: func() bool { return false }}
			args := append([]string{"datasync", "--home", t.TempDir()}, strings.Fields(c.args)...)
			code := e.run(context.Background(), args)
			if code != c.code || !strings.Contains(errOut.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, errOut.String(), c.code, c.want)
			}
		})
	}
}

func TestCheckErrorMessages(t *testing.T) {
	desc := sdk.Description{Name: "crm", Auth: sdk.AuthSpec{Fields: []sdk.ConfigField{{Name: "username"}, {Name: "password", Secret: true}}}}
	secretsOf := map[string]string{"password": "hunter2"}
	cases := []struct {
		err  error
		want string
		cat  sdk.Category
	}{
		{sdk.Errorf(sdk.CategoryAuth, "bad login for hunter2"), "authentication failed: check username and password (the app said: bad login for ****)", sdk.CategoryAuth},
		{sdk.Errorf(sdk.CategoryUnreachable, "dial tcp: refused"), "unreachable: dial tcp: refused", sdk.CategoryUnreachable},
		{sdk.Errorf(sdk.CategoryForbidden, "no scope"), "access denied: no scope (see the account requirements in `datasync plugin info crm`)", sdk.CategoryForbidden},
		{sdk.FieldError("url", "not a URL"), "invalid url: not a URL", sdk.CategoryValidation},
		{sdk.Errorf(sdk.CategoryTransient, "try later"), "check failed (transient): try later", sdk.CategoryTransient},
	}
	for _, c := range cases {
		got := checkError(desc, c.err, secretsOf)
		if got.Error() != c.want {
			t.Errorf("checkError(%v) = %q, want %q", c.err, got, c.want)
		}
		if sdk.CategoryOf(got) != c.cat || statusOf(got) != c.cat.String() {
			t.Errorf("checkError(%v) lost its category: %v", c.err, sdk.CategoryOf(got))
		}
	}
}

// A changed account names what changed: the labels when they differ, and
// the identity behind an unchanged label (a SQLite file replaced by a copy
// keeps its path) when they do not.
func TestAccountChangedErrorSaysWhatChanged(t *testing.T) {
	tests := []struct {
		was, now       string
		want, accepted string
	}{
		{"admin on acme", "admin on globex", `it was "admin on acme" and is now "admin on globex"`,
			"Connection crm now points at account admin on globex (was admin on acme): accepted"},
		{"SQLite /srv/a.db", "SQLite /srv/a.db", `it is still labelled "SQLite /srv/a.db", but the connector reports another identity behind it`,
			"Connection crm: the new identity behind account SQLite /srv/a.db is accepted"},
	}
	for _, tt := range tests {
		ac := &accountChangedError{Connection: "crm", Was: tt.was, Now: tt.now}
		if msg := ac.Error(); !strings.Contains(msg, tt.want) || !strings.Contains(msg, "datasync connection test crm --accept-account") {
			t.Errorf("labels %q → %q: %s\nwant it to say %s, and the command that accepts it", tt.was, tt.now, msg, tt.want)
		}
		if got := ac.accepted(); got != tt.accepted {
			t.Errorf("labels %q → %q, accepted: %q, want %q", tt.was, tt.now, got, tt.accepted)
		}
	}
}
