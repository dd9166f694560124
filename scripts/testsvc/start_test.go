package testsvc

import (
	"strings"
	"testing"
)

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{name: "quoted", in: "A='x'\nB='postgres://u:p@h:1/d?sslmode=disable'\n",
			want: map[string]string{"A": "x", "B": "postgres://u:p@h:1/d?sslmode=disable"}},
		{name: "bare and blank lines", in: "\nA=1\n# comment\nB=\n", want: map[string]string{"A": "1", "B": ""}},
		{name: "equals in value", in: "A='a=b'\n", want: map[string]string{"A": "a=b"}},
		{name: "no equals", in: "A\n", wantErr: true},
		{name: "no key", in: "=x\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEnv(strings.NewReader(tt.in), "test")
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestUniqueName(t *testing.T) {
	a, b := uniqueName(t, "t", 30), uniqueName(t, "t", 30)
	if a == b {
		t.Fatalf("two names are equal: %s", a)
	}
	for _, n := range []string{a, b} {
		if len(n) > 30 || !strings.HasPrefix(n, "t_testuniquename") {
			t.Errorf("name %q: want at most 30 bytes starting with t_testuniquename", n)
		}
		if strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
			t.Errorf("name %q has characters outside [a-z0-9_]", n)
		}
	}
}
