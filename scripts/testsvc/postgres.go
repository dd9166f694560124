package testsvc

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv is a running PostgreSQL server. User owns DB and may create databases;
// AdminURL is the superuser (postgres) on the postgres database.
type PostgresEnv struct {
	URL       string // postgres://User:Password@Host:Port/DB?sslmode=disable
	Host      string
	Port      int
	User      string
	Password  string
	DB        string
	AdminURL  string
	SocketDir string // Unix socket directory (trust auth for the postgres user)
	Dir       string // service directory: log, env
}

// Postgres returns a PostgreSQL server for t: the shared one when DATASYNC_TESTSVC_DIR is set,
// else a fresh one stopped when t ends. Tests that write should use CreateDatabase.
func Postgres(t testing.TB) PostgresEnv {
	t.Helper()
	env, dir := start(t, "postgres")
	f := fields{t, "postgres", env}
	return PostgresEnv{
		URL:       f.str("PG_URL"),
		Host:      f.str("PG_HOST"),
		Port:      f.port("PG_PORT"),
		User:      f.str("PG_USER"),
		Password:  f.str("PG_PASSWORD"),
		DB:        f.str("PG_DB"),
		AdminURL:  f.str("PG_ADMIN_URL"),
		SocketDir: f.str("PG_SOCKET_DIR"),
		Dir:       dir,
	}
}

// URLFor returns env's connection URL for another database on the same server.
func (e PostgresEnv) URLFor(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(e.User, e.Password),
		Host: fmt.Sprintf("%s:%d", e.Host, e.Port), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDatabase creates an empty database owned by env.User for t alone and returns its URL.
// It is dropped when t ends, together with any replication slot left on it.
func CreateDatabase(t testing.TB, env PostgresEnv) string {
	t.Helper()
	name := uniqueName(t, "t", 63)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, env.AdminURL)
	if err != nil {
		t.Fatalf("testsvc: connect as admin to create a database: %v", err)
	}
	defer admin.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident+" OWNER "+pgx.Identifier{env.User}.Sanitize()); err != nil {
		t.Fatalf("testsvc: create database %s: %v", name, err)
	}
	t.Cleanup(func() { dropDatabase(t, env, name) })
	return env.URLFor(name)
}

func dropDatabase(t testing.TB, env PostgresEnv, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, env.AdminURL)
	if err != nil {
		t.Errorf("testsvc: connect as admin to drop database %s: %v", name, err)
		return
	}
	defer admin.Close(ctx)
	// A forgotten slot pins WAL for the whole server and blocks DROP DATABASE.
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
		WHERE database = $1 AND active_pid IS NOT NULL`, name); err != nil {
		t.Errorf("testsvc: end replication on %s: %v", name, err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
		WHERE database = $1`, name); err != nil {
		t.Errorf("testsvc: drop replication slots of %s: %v", name, err)
	}
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("testsvc: drop database %s: %v", name, err)
	}
}
