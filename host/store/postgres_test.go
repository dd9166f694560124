package store

import (
	"context"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/scripts/testsvc"
)

// TestMigrationsRunOnPostgres applies the embedded migrations, unchanged, to
// a real PostgreSQL server and exercises the constraints and upserts the
// store relies on: the schema is ready for a PostgreSQL implementation.
func TestMigrationsRunOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a PostgreSQL server")
	}
	env := testsvc.Postgres(t)
	url := testsvc.CreateDatabase(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	sort.Strings(names)
	for _, n := range names {
		body, _ := migrations.ReadFile(n)
		if _, err := conn.Exec(ctx, string(body)); err != nil {
			t.Fatalf("%s on PostgreSQL: %v", n, err)
		}
	}
	now := fmtTime(time.Now())
	exec := func(q string, args ...any) error {
		_, err := conn.Exec(ctx, q, args...)
		return err
	}
	if err := exec(`INSERT INTO syncs (name, definition, state, created_at, updated_at) VALUES ($1, '{}', 'active', $2, $2)`, "a", now); err != nil {
		t.Fatal(err)
	}
	upsert := `INSERT INTO links (sync_name, left_id, right_id, base, state, excluded_by, created_at, updated_at)
		VALUES ($1, $2, $3, '{}', $4, '', $5, $5) ON CONFLICT (sync_name, left_id) DO UPDATE SET right_id = excluded.right_id,
		state = excluded.state, updated_at = excluded.updated_at`
	if err := exec(upsert, "a", "l1", "r1", LinkSyncing, now); err != nil {
		t.Fatal(err)
	}
	if err := exec(upsert, "a", "l1", "r2", LinkExcluded, now); err != nil {
		t.Fatalf("upsert: %v", err)
	}
	var right, state string
	if err := conn.QueryRow(ctx, `SELECT right_id, state FROM links WHERE sync_name = 'a' AND left_id = 'l1'`).Scan(&right, &state); err != nil || right != "r2" || state != LinkExcluded {
		t.Fatalf("upsert result %s %s %v", right, state, err)
	}
	if err := exec(upsert, "a", "l2", "r2", LinkSyncing, now); err == nil {
		t.Fatal("one right record linked twice")
	}
	if err := exec(upsert, "a", "l3", "r3", "confused", now); err == nil {
		t.Fatal("invalid link state accepted")
	}
	if err := exec(upsert, "nope", "l4", "r4", LinkSyncing, now); err == nil {
		t.Fatal("link of an unknown sync accepted")
	}
	if err := exec(`INSERT INTO connections (name, plugin, secrets, created_at, updated_at) VALUES ('c', 'p', $1, $2, $2)`, []byte{0, 1, 0xff}, now); err != nil {
		t.Fatalf("secrets as BYTEA: %v", err)
	}
	if err := exec(`DELETE FROM syncs WHERE name = 'a'`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM links`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("links of a deleted sync kept: %d %v", n, err)
	}
}

// TestOnPostgres runs the store's tests on a real PostgreSQL server: the
// statements SQLite runs, their placeholders rewritten. Left out are those
// about SQLite's WAL checkpoints.
func TestOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a PostgreSQL server")
	}
	for _, c := range []struct {
		name string
		test func(*testing.T)
	}{
		{"MigrationsIdempotent", TestMigrationsIdempotent},
		{"ConnectionRoundTrip", TestConnectionRoundTrip},
		{"SyncStateConstraint", TestSyncStateConstraint},
		{"BatchRoundTrip", TestBatchRoundTrip},
		{"LinksOneToOne", TestLinksOneToOne},
		{"AddLinks", TestAddLinks},
		{"DeleteSyncCascades", TestDeleteSyncCascades},
		{"Runs", TestRuns},
		{"ResetSyncState", TestResetSyncState},
		{"PutLinkRightID", TestPutLinkRightID},
		{"LinksAfterPages", TestLinksAfterPages},
		{"HasLinks", TestHasLinks},
		{"Leases", TestLeases},
		{"AnyBytesRoundTrip", TestAnyBytesRoundTrip},
		{"LinkDigestsSumWhatEachSideHolds", TestLinkDigestsSumWhatEachSideHolds},
	} {
		t.Run(c.name, c.test)
	}
}

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{`"we?ird" = ? -- a ? here\nAND z = ?`, `"we?ird" = $1 -- a ? here\nAND z = $2`},
		{"a = ? -- trailing ?", "a = $1 -- trailing ?"},
		{"x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1"},
		{"x = 'open ?", "x = 'open ?"},
		{"(?1, ?2, ?2, ?3), (?1, ?2, ?2, ?11)", "($1, $2, $2, $3), ($1, $2, $2, $11)"},
	} {
		if got := rebind(strings.ReplaceAll(c.in, `\n`, "\n")); got != strings.ReplaceAll(c.want, `\n`, "\n") {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzRebind: every ? outside quotes and comments becomes the next $n, and
// nothing else changes. Inputs with digits or $ are skipped, so that each
// $ of the output starts a placeholder whose number ends at the next
// non-digit.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{"a = ? AND b = '?'", `"?" -- ?` + "\n?", "'it''s' = ?", "??"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.ContainsAny(q, "$0123456789") {
			t.Skip()
		}
		got := rebind(q)
		var undone strings.Builder
		next := 1
		for i := 0; i < len(got); i++ {
			if got[i] != '$' {
				undone.WriteByte(got[i])
				continue
			}
			j := i + 1
			for j < len(got) && got[j] >= '0' && got[j] <= '9' {
				j++
			}
			if n, err := strconv.Atoi(got[i+1 : j]); err != nil || n != next {
				t.Fatalf("rebind(%q) = %q: placeholder %q where $%d was due", q, got, got[i:j], next)
			}
			next++
			undone.WriteByte('?')
			i = j - 1
		}
		if undone.String() != q {
			t.Fatalf("rebind(%q) = %q changed more than placeholders", q, got)
		}
	})
}

// FuzzPGText: pgText leaves no NUL, fromPGText undoes it, and text with
// neither NUL nor the escape byte is left as it is.
func FuzzPGText(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x00b", "\x02", "\x020", "\x02\x02\x00", "x\x02", "caf\xe9", "\xff\xfe", "\x02x41", "€\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := pgText(s)
		if strings.IndexByte(enc, 0) >= 0 {
			t.Fatalf("pgText(%q) = %q holds a NUL", s, enc)
		}
		if dec := fromPGText(enc); dec != s {
			t.Fatalf("fromPGText(pgText(%q)) = %q", s, dec)
		}
		if !utf8.ValidString(enc) {
			t.Fatalf("pgText(%q) = %q is not UTF-8", s, enc)
		}
		if utf8.ValidString(s) && !strings.ContainsAny(s, "\x00\x02") && enc != s {
			t.Fatalf("pgText(%q) = %q changed plain text", s, enc)
		}
	})
}
