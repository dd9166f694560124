package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver the SQLite connector uses too
)

// sqliteSchema is the contacts table of both SQLite apps: the rowid key, the ten text fields
// (email unique) and the updated-at column the connector reads incrementally by. trigger adds
// one that logs deletes to another table: the connector then marks none of its writes.
func sqliteSchema(trigger bool) string {
	cols := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = f + " TEXT"
		if f == "email" {
			cols[i] += " UNIQUE"
		}
	}
	schema := "CREATE TABLE contacts (id INTEGER PRIMARY KEY, " + strings.Join(cols, ", ") +
		", updated_at DATETIME);\nCREATE INDEX contacts_updated ON contacts (updated_at, id);"
	if trigger {
		schema += "\nCREATE TABLE deleted (id INTEGER);" +
			"\nCREATE TRIGGER contacts_deleted AFTER DELETE ON contacts BEGIN INSERT INTO deleted VALUES (old.id); END;"
	}
	return schema
}

func sqliteOpen(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000&_mutex=no")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	// As the connector checkpoints (its walCheckpointPages): on its one
	// connection, kept open.
	if _, err := db.Exec("PRAGMA wal_autocheckpoint = 8192"); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// sqliteSeed creates the file at path with the contacts of side (see side.contact); those
// below variantBelow get variant 1 (the same person as another app's copy, with a different
// phone and source). trigger: see sqliteSchema.
func sqliteSeed(ctx context.Context, path string, sd side, variantBelow int, stamp time.Time, trigger bool) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	db, err := sqliteOpen(path)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, sqliteSchema(trigger)); err != nil {
		return fmt.Errorf("create contacts in %s: %w", path, err)
	}
	rows := func(yield func([]any) error) error {
		at := sqliteStamp(stamp)
		for k := range sd.rows() {
			i := sd.contact(k)
			v := 0
			if i < variantBelow {
				v = 1
			}
			if err := yield(append(contact(i, v), at)); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := sqliteInsert(ctx, db, "INSERT INTO contacts ("+strings.Join(fields, ", ")+", updated_at) VALUES ("+
		strings.Repeat("?, ", len(fields))+"?)", rows); err != nil {
		return fmt.Errorf("seed %s: %w", path, err)
	}
	return nil
}

// sqliteTxRows is how many rows one transaction of the baseline and the seeding inserts.
const sqliteTxRows = 5000

// sqliteInsert runs the prepared insert for every row, committing every sqliteTxRows rows,
// and returns how many rows it inserted (an ignored duplicate counts as none).
func sqliteInsert(ctx context.Context, db *sql.DB, insert string, rows func(func([]any) error) error) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	stmt, err := tx.PrepareContext(ctx, insert)
	if err != nil {
		return 0, fmt.Errorf("prepare insert: %w", err)
	}
	var n, inTx int64
	err = rows(func(v []any) error {
		res, err := stmt.ExecContext(ctx, v...)
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		n += k
		if inTx++; inTx < sqliteTxRows {
			return nil
		}
		inTx = 0
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if tx, err = db.BeginTx(ctx, nil); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if stmt, err = tx.PrepareContext(ctx, insert); err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	if err := tx.Commit(); err != nil {
		return n, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}

// sqliteBaseline is the raw two-way copy a hand-written program would do between the two
// files: every row of each side inserted into the other (INSERT OR IGNORE on the unique
// email keeps the shared ones), prepared, in transactions of sqliteTxRows, WAL. It returns
// the rows inserted and the time taken.
func sqliteBaseline(ctx context.Context, left, right string) (int64, time.Duration, error) {
	began := time.Now()
	l, err := sqliteOpen(left)
	if err != nil {
		return 0, 0, err
	}
	defer l.Close()
	r, err := sqliteOpen(right)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	// Both sides are read before either is written, as a sync must.
	ls, err := sqliteAll(ctx, l)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", left, err)
	}
	rs, err := sqliteAll(ctx, r)
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", right, err)
	}
	insert := "INSERT OR IGNORE INTO contacts (" + strings.Join(fields, ", ") + ", updated_at) VALUES (" +
		strings.Repeat("?, ", len(fields)) + "?)"
	var total int64
	for _, c := range []struct {
		db   *sql.DB
		rows [][]any
		name string
	}{{r, ls, right}, {l, rs, left}} {
		n, err := sqliteInsert(ctx, c.db, insert, func(yield func([]any) error) error {
			for _, v := range c.rows {
				if err := yield(v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("copy into %s: %w", c.name, err)
		}
		total += n
	}
	return total, time.Since(began), nil
}

// sqliteAll reads every contact with its updated-at.
func sqliteAll(ctx context.Context, db *sql.DB) ([][]any, error) {
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(fields, ", ")+", updated_at FROM contacts")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		v := make([]sql.NullString, len(fields)+1)
		p := make([]any, len(v))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			return nil, err
		}
		row := make([]any, len(v))
		for i, s := range v {
			if s.Valid {
				row[i] = s.String
			}
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// side is the contacts of one app of scenario 2: own of them only it has (contacts
// ownLo.., ownN of them), shared the other app has too (contacts sharedLo.., sharedN).
type side struct{ ownLo, ownN, sharedLo, sharedN int }

func (s side) rows() int { return s.ownN + s.sharedN }

// contact returns the contact of row k (0-based). Every 10th row is a shared one, while they
// last: a side's shared records come spread through its reads, as in real data, not bunched
// at one end (which would let a streamed first run hold its pairs only briefly).
func (s side) contact(k int) int {
	if k%10 == 9 && k/10 < s.sharedN {
		return s.sharedLo + k/10
	}
	return s.ownLo + k - min((k+1)/10, s.sharedN)
}

// sqliteTouch changes every every-th of the first n rows of the file at path (ids rest,
// rest+every, …; every 100 from 1 is 1 %): a new phone and source and a current updated-at.
// It returns how many rows changed.
func sqliteTouch(ctx context.Context, path string, variant, every, rest, n int) (int64, error) {
	db, err := sqliteOpen(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, fmt.Sprintf(`UPDATE contacts SET phone = phone || ' x%d',
  source = source || ' (edit %d)', updated_at = ? WHERE id %% %d = %d AND id <= ?`, variant, variant, every, rest), sqliteStamp(time.Now()), n)
	if err != nil {
		return 0, fmt.Errorf("change 1 in %d rows of %s: %w", every, path, err)
	}
	return res.RowsAffected()
}

// sqliteConflict changes the phone of rows every, 2·every, … up to n of the file at left,
// and of the rows with the same emails in the file at right, each side to a value of its
// own: under the manual rule, each pair is then a conflict. It returns how many pairs
// changed.
func sqliteConflict(ctx context.Context, left, right string, every, n int) (int64, error) {
	l, err := sqliteOpen(left)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	r, err := sqliteOpen(right)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	rows, err := l.QueryContext(ctx, "SELECT email FROM contacts WHERE id % ? = 0 AND id <= ?", every, n)
	if err != nil {
		return 0, fmt.Errorf("conflicting rows of %s: %w", left, err)
	}
	var emails []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			rows.Close()
			return 0, err
		}
		emails = append(emails, e)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	stamp := sqliteStamp(time.Now())
	var pairs int64
	for _, e := range emails {
		for _, side := range []struct {
			db    *sql.DB
			path  string
			phone string
		}{{l, left, "+1 555 0101"}, {r, right, "+1 555 0202"}} {
			res, err := side.db.ExecContext(ctx, "UPDATE contacts SET phone = ?, updated_at = ? WHERE email = ?", side.phone, stamp, e)
			if err != nil {
				return 0, fmt.Errorf("conflict %s in %s: %w", e, side.path, err)
			}
			if k, _ := res.RowsAffected(); k != 1 {
				return 0, fmt.Errorf("conflict %s: %d rows of %s", e, k, side.path)
			}
		}
		pairs++
	}
	return pairs, nil
}

// sqliteCount returns the contacts in the file at path.
func sqliteCount(ctx context.Context, path string) (int64, error) {
	db, err := sqliteOpen(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM contacts").Scan(&n); err != nil {
		return 0, fmt.Errorf("count contacts in %s: %w", path, err)
	}
	return n, nil
}
