package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/datasync-io/datasync/sdk"
)

// idKind says where a table's record ids come from.
type idKind uint8

const (
	// idRowid: the rowid (an INTEGER PRIMARY KEY alias, or the hidden rowid of
	// a table without a single-column key); SQLite assigns it on create.
	idRowid idKind = iota
	// idGenerated: a text-like primary key; a create may set it, otherwise
	// the connector generates a random UUID.
	idGenerated
	// idGiven: any other single-column primary key (INT, DATE…): a create
	// must set it.
	idGiven
)

// column is one column of a table and how it maps to a field.
type column struct {
	name      string
	q         string // quoted identifier
	decl      string // declared type as written
	typ       sdk.FieldType
	maxLen    int
	aff       affinity
	notNull   bool
	hasDef    bool
	pk        int  // position in the primary key, 0 when not part of it
	generated bool // a generated column: never written
	exposed   bool // has a field in the object type
	// exactBind: SQLite stores what encode binds unchanged; false for text
	// in a column whose numeric affinity would turn "00123" into 123.
	exactBind bool
}

// table is what the connector knows of one table; it is rebuilt whenever
// the database's schema_version changes.
type table struct {
	name       string
	q          string
	cols       []column
	id         idKind
	idCol      int    // column holding the id; -1 for the hidden rowid
	idExpr     string // SQL naming the id
	uaCol      int    // the updated-at column, -1 when there is none
	uaInt      bool   // updated-at kept as Unix microseconds (integer column)
	savepoints bool   // ops need a savepoint each to be undone alone
	autoinc    bool   // AUTOINCREMENT: SQLite never reuses a rowid
	triggers   bool   // a trigger may change what an op stores
	obj        sdk.ObjectType
	byName     map[string]int // column name (lower case) → index in cols
	sel        string         // select list: the id, then every column
}

// column returns the column of that name (SQLite names are case-insensitive).
func (t *table) column(name string) (int, bool) {
	i, ok := t.byName[strings.ToLower(name)]
	return i, ok
}

// field returns the column of an exposed field.
func (t *table) field(name string) (int, bool) {
	i, ok := t.column(name)
	if !ok || !t.cols[i].exposed {
		return 0, false
	}
	return i, true
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// columnType maps a declared type and a column name onto a field type and
// length limit; ok is false for columns the connector does not expose (BLOB).
func columnType(name, decl string) (typ sdk.FieldType, maxLen int, ok bool) {
	u := strings.ToUpper(strings.TrimSpace(decl))
	base, args, _ := strings.Cut(u, "(")
	base = strings.TrimSpace(base)
	if args != "" {
		first, _, _ := strings.Cut(strings.TrimSuffix(strings.TrimSpace(args), ")"), ",")
		if n, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && n > 0 {
			maxLen = n
		}
	}
	switch {
	case base == "BOOLEAN" || base == "BOOL":
		return sdk.TypeBoolean, 0, true
	case base == "DATE":
		return sdk.TypeDate, 0, true
	case base == "DATETIME" || strings.HasPrefix(base, "TIMESTAMP"):
		return sdk.TypeDateTime, 0, true
	case base == "TEXT_LIST" || base == "STRING_LIST" || base == "JSON_LIST":
		return sdk.TypeStringList, 0, true
	}
	switch affinityOf(u) {
	case affInteger:
		return sdk.TypeInteger, 0, true
	case affReal:
		return sdk.TypeDecimal, 0, true
	case affText:
		if !strings.Contains(base, "CHAR") {
			maxLen = 0 // TEXT(n) and CLOB(n) declare no limit worth enforcing
		}
		if isEmailName(name) {
			return sdk.TypeEmail, maxLen, true
		}
		return sdk.TypeString, maxLen, true
	case affBlob:
		if u != "" {
			return 0, 0, false
		}
	case affNumeric:
		if base == "NUMERIC" || base == "DECIMAL" || base == "NUMBER" || base == "MONEY" {
			return sdk.TypeDecimal, 0, true
		}
	}
	// No declared type, or one SQLite gives no meaning (UUID, JSON…): text.
	if isEmailName(name) {
		return sdk.TypeEmail, 0, true
	}
	return sdk.TypeString, 0, true
}

func isEmailName(name string) bool {
	n := strings.ToLower(name)
	return n == "email" || strings.HasSuffix(n, "_email")
}

// loadSchema reads the tables of the main database. Tables the connector
// cannot address (WITHOUT ROWID with a composite key) are left out.
func loadSchema(ctx context.Context, db *sql.DB, uaName string, only map[string]bool) ([]*table, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	type entry struct {
		name  string
		noRow bool
	}
	var names []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.name, &e.noRow); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		if only == nil || only[strings.ToLower(e.name)] {
			names = append(names, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for name := range only {
		if !slices.ContainsFunc(names, func(e entry) bool { return strings.EqualFold(e.name, name) }) {
			sdk.Logger(ctx).Warn("the tables setting names a table the database does not have", "table", name)
		}
	}
	var out []*table
	for _, e := range names {
		t, err := loadTable(ctx, db, e.name, e.noRow, uaName)
		if err != nil {
			return nil, err
		}
		if t == nil {
			sdk.Logger(ctx).Info("table left out: it has no single-column key the connector can use as record id", "table", e.name)
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

func loadTable(ctx context.Context, db *sql.DB, name string, withoutRowid bool, uaName string) (*table, error) {
	t := &table{name: name, q: quoteIdent(name), idCol: -1, uaCol: -1, byName: map[string]int{}}
	rows, err := db.QueryContext(ctx,
		`SELECT name, type, "notnull", dflt_value IS NOT NULL, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid`, name)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", name, err)
	}
	var pkCols []int
	for rows.Next() {
		var c column
		var hidden int
		if err := rows.Scan(&c.name, &c.decl, &c.notNull, &c.hasDef, &c.pk, &hidden); err != nil {
			rows.Close()
			return nil, fmt.Errorf("columns of %s: %w", name, err)
		}
		c.generated = hidden == 2 || hidden == 3
		c.q = quoteIdent(c.name)
		c.aff = affinityOf(c.decl)
		c.typ, c.maxLen, c.exposed = columnType(c.name, c.decl)
		c.exactBind = c.typ.ValueKind() != sdk.KindString || c.aff == affText || c.aff == affBlob
		if c.pk > 0 {
			pkCols = append(pkCols, len(t.cols))
		}
		t.byName[strings.ToLower(c.name)] = len(t.cols)
		t.cols = append(t.cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("columns of %s: %w", name, err)
	}
	unique, err := uniqueColumns(ctx, db, name)
	if err != nil {
		return nil, err
	}

	switch {
	case len(pkCols) == 1 && !withoutRowid && strings.EqualFold(strings.TrimSpace(t.cols[pkCols[0]].decl), "INTEGER"):
		t.id, t.idCol = idRowid, pkCols[0]
		t.cols[pkCols[0]].exposed = false
	case len(pkCols) == 1:
		t.idCol = pkCols[0]
		c := &t.cols[t.idCol]
		if !c.exposed {
			return nil, nil // a BLOB key: no id the host could carry
		}
		t.id = idGiven
		if c.typ == sdk.TypeString || c.typ == sdk.TypeEmail {
			t.id = idGenerated
		}
	case withoutRowid:
		return nil, nil // composite key and no rowid: no single id
	default:
		t.id = idRowid // the hidden rowid; VACUUM may renumber it
	}
	if t.idCol >= 0 {
		t.idExpr = t.cols[t.idCol].q
	} else {
		t.idExpr = "rowid"
	}

	obj := sdk.ObjectType{Name: name, Label: name, Tombstones: false}
	sel := make([]string, 0, len(t.cols)+1)
	sel = append(sel, t.idExpr)
	for i := range t.cols {
		c := &t.cols[i]
		// "+" makes the column an expression, which keeps the driver from
		// re-parsing DATE/DATETIME/BOOLEAN columns: values come back as stored.
		sel = append(sel, "+"+c.q)
		if strings.EqualFold(c.name, uaName) && !c.generated {
			t.uaCol = i
			t.uaInt = c.aff == affInteger
		}
		if !c.exposed {
			continue
		}
		f := sdk.Field{Name: c.name, Label: c.name, Type: c.typ, MaxLength: c.maxLen, Unique: unique[i]}
		switch {
		case i == t.uaCol || c.generated:
			f.ReadOnly = true
		case i == t.idCol:
			f.Unique = true
			f.Required = t.id == idGiven
		default:
			f.Required = c.notNull && !c.hasDef
		}
		obj.Fields = append(obj.Fields, f)
	}
	obj.Incremental = t.uaCol >= 0
	t.obj = obj
	t.sel = strings.Join(sel, ", ")

	var triggers int
	var ddl sql.NullString
	if err := db.QueryRowContext(ctx,
		`SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1),
		        (SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1)`, name).Scan(&triggers, &ddl); err != nil {
		return nil, fmt.Errorf("definition of %s: %w", name, err)
	}
	// A trigger, or an ON CONFLICT FAIL clause, can leave part of a failed
	// statement applied: only then is an op wrapped in its own savepoint.
	upper := strings.ToUpper(ddl.String)
	t.triggers = triggers > 0
	t.savepoints = t.triggers || strings.Contains(upper, "ON CONFLICT")
	t.autoinc = strings.Contains(upper, "AUTOINCREMENT")
	return t, nil
}

// uniqueColumns returns which columns (by index) a complete, single-column
// unique index covers.
func uniqueColumns(ctx context.Context, db *sql.DB, name string) (map[int]bool, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT ii.cid FROM pragma_index_list(?) il, pragma_index_info(il.name) ii
		 WHERE il."unique" AND NOT il.partial
		   AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1`, name)
	if err != nil {
		return nil, fmt.Errorf("indexes of %s: %w", name, err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var cid int
		if err := rows.Scan(&cid); err != nil {
			return nil, fmt.Errorf("indexes of %s: %w", name, err)
		}
		out[cid] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("indexes of %s: %w", name, err)
	}
	return out, nil
}
