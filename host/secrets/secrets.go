package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyEnv is the environment variable that can hold the master key.
const KeyEnv = "DATASYNC_MASTER_KEY"

// KeyFile is the master key's file name inside $DATASYNC_HOME.
const KeyFile = "master.key"

const (
	keySize = 32
	version = 1
	// aad binds a sealed blob to its purpose, so a blob sealed for
	// something else under the same key does not open as secrets.
	aad = "datasync connection secrets v1"
)

// ErrOpen is wrapped by Open's errors: wrong key or damaged data.
var ErrOpen = errors.New("cannot decrypt secrets")

// Box seals and opens secrets with one master key.
type Box struct {
	aead   cipher.AEAD
	source string // where the key came from, for error messages
}

// Load returns the box of the master key: DATASYNC_MASTER_KEY when set,
// else home/master.key, created (0600) on first use. A key file readable by
// group or others is refused.
func Load(home string) (*Box, error) {
	if v, ok := os.LookupEnv(KeyEnv); ok {
		key, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (make one with `head -c 32 /dev/urandom | base64`)", KeyEnv, err)
		}
		return newBox(key, KeyEnv)
	}
	path := filepath.Join(home, KeyFile)
	key, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKeyFile(path)
	}
	if err != nil {
		return nil, err
	}
	return newBox(key, path)
}

// New returns a box for a raw 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("master key is %d bytes; it must be %d", len(key), keySize)
	}
	return newBox(key, "key")
}

func newBox(key []byte, source string) (*Box, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead, source: source}, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != keySize {
				return nil, fmt.Errorf("the key is %d bytes; it must be %d bytes, base64-encoded", len(k), keySize)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("the key is not base64; it must be %d random bytes, base64-encoded", keySize)
}

func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("master key %s is readable or writable by group or others (mode %04o): run `chmod 600 %s`", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	key, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new random key; O_EXCL makes a concurrent first use
// read the key the other process wrote instead of overwriting it.
func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create master key: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create master key %s: %w", path, err)
	}
	return key, nil
}

// Seal encrypts secrets: a version byte, a random nonce, then the
// AES-256-GCM ciphertext of their JSON.
func (b *Box) Seal(secrets map[string]string) ([]byte, error) {
	plain, err := json.Marshal(secrets)
	if err != nil {
		return nil, fmt.Errorf("seal secrets: %w", err)
	}
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal secrets: %w", err)
	}
	return b.aead.Seal(out, out[1:], plain, []byte(aad)), nil
}

// Open decrypts what Seal produced. A wrong key or changed bytes fail with
// an error wrapping ErrOpen; the error never contains the secrets.
func (b *Box) Open(sealed []byte) (map[string]string, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, fmt.Errorf("%w: the sealed data is damaged or not datasync secrets", ErrOpen)
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: the master key (%s) is not the one they were sealed with, or the data was changed", ErrOpen, b.source)
	}
	out := map[string]string{}
	if err := json.Unmarshal(plain, &out); err != nil {
		return nil, fmt.Errorf("%w: sealed data is not a secrets map", ErrOpen)
	}
	return out, nil
}
