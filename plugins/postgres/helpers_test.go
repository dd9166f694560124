package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/scripts/testsvc"
	"github.com/datasync-io/datasync/sdk"
)

// testDB is a fresh database for one test, with a direct connection for
// setting up tables and a connector config reaching it.
type testDB struct {
	env  testsvc.PostgresEnv
	url  string // with the password, for the helper connection
	cfg  sdk.Config
	conn *pgx.Conn
}

func newTestDB(t *testing.T) *testDB {
	t.Helper()
	env := testsvc.Postgres(t)
	url := testsvc.CreateDatabase(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &testDB{env: env, url: url, conn: conn, cfg: configFor(env, url)}
}

// adminConn is a direct connection to url for setting up data.
func adminConn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// configFor is the connector config for url, the password passed as the secret.
func configFor(env testsvc.PostgresEnv, url string) sdk.Config {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		panic(err)
	}
	return sdk.Config{
		Settings: map[string]string{"url": "postgres://" + cfg.User + "@" + env.Host + ":" + itoa(env.Port) + "/" + cfg.Database + "?sslmode=disable",
			"soft_delete_column": "", "version_column": ""},
		Secrets: map[string]string{"password": env.Password},
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func (d *testDB) exec(t *testing.T, sqls ...string) {
	t.Helper()
	for _, s := range sqls {
		if _, err := d.conn.Exec(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// config is d's connector config plus settings (name, value, ...).
func (d *testDB) config(settings ...string) sdk.Config {
	cfg := sdk.Config{Settings: map[string]string{}, Secrets: d.cfg.Secrets}
	for k, v := range d.cfg.Settings {
		cfg.Settings[k] = v
	}
	for i := 0; i+1 < len(settings); i += 2 {
		cfg.Settings[settings[i]] = settings[i+1]
	}
	return cfg
}

// open opens the connector in process with d's config plus settings.
func (d *testDB) open(t *testing.T, settings ...string) *Conn {
	t.Helper()
	c, err := New().Open(context.Background(), d.config(settings...))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*Conn)
}

// collector keeps copies of what a Read hands over.
type collector struct {
	recs        []sdk.Record
	cursor      string
	checkpoints int
}

func (c *collector) Records(recs []sdk.Record) error {
	for _, r := range recs {
		r.Values = append([]sdk.Value(nil), r.Values...)
		c.recs = append(c.recs, r)
	}
	return nil
}

func (c *collector) Checkpoint(cursor string) error {
	c.cursor = cursor
	c.checkpoints++
	return nil
}

func read(t *testing.T, c *Conn, object, cursor string, fields ...string) *collector {
	t.Helper()
	col := &collector{}
	if err := c.Read(context.Background(), sdk.ReadRequest{Object: object, Cursor: cursor, Fields: fields}, col); err != nil {
		t.Fatalf("read %s from %q: %v", object, cursor, err)
	}
	return col
}

func ids(recs []sdk.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}
