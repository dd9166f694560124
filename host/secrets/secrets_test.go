package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Setenv(KeyEnv, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	box, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cases := []map[string]string{
		{},
		{"password": "s3cret"},
		{"api_key": "k-123", "token": "ünïcødé ✓", "empty": ""},
	}
	for _, in := range cases {
		sealed, err := box.Seal(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range in {
			if v != "" && bytes.Contains(sealed, []byte(v)) {
				t.Fatalf("sealed data contains %q in the clear", v)
			}
		}
		out, err := box.Open(sealed)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != len(in) {
			t.Fatalf("opened %v, want %v", out, in)
		}
		for k, v := range in {
			if out[k] != v {
				t.Fatalf("opened %v, want %v", out, in)
			}
		}
	}
	a, _ := box.Seal(map[string]string{"p": "x"})
	b, _ := box.Seal(map[string]string{"p": "x"})
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same secrets are equal: nonce not random")
	}
}

func TestOpenRefuses(t *testing.T) {
	key1 := bytes.Repeat([]byte{1}, 32)
	key2 := bytes.Repeat([]byte{2}, 32)
	box1, _ := New(key1)
	box2, _ := New(key2)
	sealed, err := box1.Seal(map[string]string{"password": "hunter2"})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	cases := []struct {
		name string
		box  *Box
		data []byte
	}{
		{"wrong key", box2, sealed},
		{"tampered ciphertext", box1, flip(len(sealed) - 20)},
		{"tampered tag", box1, flip(len(sealed) - 1)},
		{"tampered nonce", box1, flip(3)},
		{"wrong version", box1, flip(0)},
		{"truncated", box1, sealed[:10]},
		{"empty", box1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.box.Open(c.data)
			if err == nil {
				t.Fatalf("opened %v", out)
			}
			if !errors.Is(err, ErrOpen) {
				t.Fatalf("error %v does not wrap ErrOpen", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatal("error shows the secret")
			}
		})
	}
}

func TestLoadKeyFile(t *testing.T) {
	t.Setenv(KeyEnv, "")
	os.Unsetenv(KeyEnv)
	home := filepath.Join(t.TempDir(), "home")
	box, err := Load(home)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, KeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("created key mode %04o, want 0600", fi.Mode().Perm())
	}
	sealed, _ := box.Seal(map[string]string{"k": "v"})
	again, err := Load(home)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := again.Open(sealed); err != nil || out["k"] != "v" {
		t.Fatalf("second Load opens %v, %v: the key was not reused", out, err)
	}

	cases := []struct {
		name    string
		mode    os.FileMode
		content string
		want    string
	}{
		{"group readable", 0o640, "", "readable or writable by group or others (mode 0640): run `chmod 600 PATH`"},
		{"world readable", 0o604, "", "(mode 0604): run `chmod 600"},
		{"not base64", 0o600, "not a key!!\n", "is not base64"},
		{"short", 0o600, base64.StdEncoding.EncodeToString([]byte("short")) + "\n", "the key is 5 bytes; it must be 32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := t.TempDir()
			p := filepath.Join(h, KeyFile)
			content := c.content
			if content == "" {
				b, _ := os.ReadFile(path)
				content = string(b)
			}
			if err := os.WriteFile(p, []byte(content), c.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, c.mode) // umask may have narrowed it
			_, err := Load(h)
			want := strings.ReplaceAll(c.want, "PATH", p)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Load = %v, want an error containing %q", err, want)
			}
		})
	}
}

func TestLoadFromEnv(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	cases := []struct {
		name, value, want string
	}{
		{"std", base64.StdEncoding.EncodeToString(key), ""},
		{"raw url with newline", base64.RawURLEncoding.EncodeToString(key) + "\n", ""},
		{"too short", base64.StdEncoding.EncodeToString(key[:16]), "DATASYNC_MASTER_KEY: the key is 16 bytes"},
		{"garbage", "%%%", "DATASYNC_MASTER_KEY: the key is not base64"},
	}
	ref, _ := New(key)
	sealed, _ := ref.Seal(map[string]string{"a": "b"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(KeyEnv, c.value)
			home := t.TempDir()
			box, err := Load(home)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Load = %v, want %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if out, err := box.Open(sealed); err != nil || out["a"] != "b" {
				t.Fatalf("env key does not open: %v %v", out, err)
			}
			if _, err := os.Stat(filepath.Join(home, KeyFile)); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("a key file was created although the key came from the environment")
			}
		})
	}
}
