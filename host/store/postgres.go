package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// IsPostgresURL reports whether target names a PostgreSQL database rather
// than a SQLite file.
func IsPostgresURL(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// openPostgres opens the state in the PostgreSQL database at url, for
// several daemons sharing it. The schema and statements are SQLite's: the
// migrations run on both, and placeholders are rewritten on the way.
func openPostgres(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx leaves the password out of its parse errors.
		return nil, fmt.Errorf("open state: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "datasync"
	}
	where := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	db := sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(2)
	s := &Store{db: db, now: time.Now, pg: true}
	if err := s.db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", where, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open state %s: %w", where, err)
	}
	return s, nil
}

// migrationLock is the advisory lock daemons starting together take in
// turn to migrate the schema.
const migrationLock = 0x64617461 // "data"

// pgConnector opens pgx connections whose statements take SQLite's ?
// placeholders.
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &pgConn{conn.(*stdlib.Conn)}, nil
}

// pgConn is a pgx connection that rewrites placeholders, and text
// PostgreSQL cannot hold (pgText).
type pgConn struct{ *stdlib.Conn }

func (c *pgConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, rebind(q))
	if err != nil {
		return nil, err
	}
	return pgStmt{st.(stmt)}, nil
}

func (c *pgConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		q = rebind(q)
	}
	return c.Conn.ExecContext(ctx, q, toPGArgs(args))
}

func (c *pgConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		q = rebind(q)
	}
	rows, err := c.Conn.QueryContext(ctx, q, toPGArgs(args))
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

// stmt is what pgx's prepared statements offer.
type stmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// pgStmt is a prepared statement whose text goes through pgText.
type pgStmt struct{ stmt }

func (s pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.stmt.ExecContext(ctx, toPGArgs(args))
}

func (s pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := s.stmt.QueryContext(ctx, toPGArgs(args))
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

// pgRows reads text back from pgText.
type pgRows struct{ driver.Rows }

func (r pgRows) Next(dest []driver.Value) error {
	if err := r.Rows.Next(dest); err != nil {
		return err
	}
	for i, v := range dest {
		if s, ok := v.(string); ok {
			dest[i] = fromPGText(s)
		}
	}
	return nil
}

func toPGArgs(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		if s, ok := a.Value.(string); ok {
			args[i].Value = pgText(s)
		}
	}
	return args
}

// pgEscape marks what pgText changed.
const pgEscape = '\x02'

// pgText makes s storable as PostgreSQL text, which holds only UTF-8 and no
// NUL byte (values an app stored: Latin-1 text in a SQLite file, say): NUL
// becomes pgEscape '0', a byte that is not UTF-8 pgEscape 'x' and two hex
// digits, and pgEscape itself is doubled. Other text, all text in practice,
// is unchanged, so comparisons and order in SQL stay as they were.
func pgText(s string) string {
	if strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, pgEscape) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == 0:
			b.WriteByte(pgEscape)
			b.WriteByte('0')
		case c == pgEscape:
			b.WriteByte(pgEscape)
			b.WriteByte(pgEscape)
		case c >= utf8.RuneSelf:
			if r, n := utf8.DecodeRuneInString(s[i:]); r != utf8.RuneError || n > 1 {
				b.WriteString(s[i : i+n])
				i += n
				continue
			}
			b.WriteByte(pgEscape)
			b.WriteByte('x')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		default:
			b.WriteByte(c)
		}
		i++
	}
	return b.String()
}

// fromPGText undoes pgText.
func fromPGText(s string) string {
	if strings.IndexByte(s, pgEscape) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == pgEscape && i+1 < len(s) {
			switch s[i+1] {
			case '0':
				b.WriteByte(0)
				i++
				continue
			case 'x':
				if i+3 < len(s) {
					if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
						b.WriteByte(byte(v))
						i += 3
						continue
					}
				}
			case pgEscape:
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// rebind turns the ? placeholders of q into $1, $2, ... (and ?NNN into
// $NNN), leaving quoted text, quoted names and comments alone.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		switch ch := q[i]; {
		case ch == '\'' || ch == '"':
			end := strings.IndexByte(q[i+1:], ch)
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+2])
			i += end + 1
		case ch == '-' && i+1 < len(q) && q[i+1] == '-':
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+end+1])
			i += end
		case ch == '?' && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			b.WriteByte('$') // ?NNN: SQLite's numbered form, the same number
		case ch == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
