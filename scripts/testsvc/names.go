package testsvc

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// uniqueName returns "<prefix>_<test name>_<random>" made of [a-z0-9_], at most max bytes:
// recognizable in a shared server, never colliding between tests or runs.
func uniqueName(t testing.TB, prefix string, max int) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testsvc: random name: %v", err)
	}
	suffix := "_" + hex.EncodeToString(b[:])
	var name strings.Builder
	name.WriteString(prefix)
	name.WriteByte('_')
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			name.WriteRune(r)
		default:
			name.WriteByte('_')
		}
	}
	s := name.String()
	if len(s)+len(suffix) > max {
		s = s[:max-len(suffix)]
	}
	return s + suffix
}
