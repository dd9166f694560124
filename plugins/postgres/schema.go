package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/datasync-io/datasync/sdk"
)

// column is one column of a table with what reads and writes need.
type column struct {
	name      string
	ident     string // quoted identifier
	castType  string // the base type without modifiers, for casting text parameters: "character varying"
	field     sdk.Field
	list      bool   // a text array
	generated bool   // a generated or identity column
	expr      string // how a select list reads it over alias t: as a type the decoder knows
	copyType  string // the base type when COPY can write it from Go values; "" otherwise
	sequence  string // serial / identity sequence
	always    bool   // GENERATED ALWAYS AS IDENTITY
}

// copyTypes are the column types the COPY fast path writes.
var copyTypes = map[string]bool{"text": true, "varchar": true, "int2": true, "int4": true,
	"int8": true, "bool": true, "date": true, "timestamp": true, "timestamptz": true}

// nativeTypes are the (base) types the value decoder reads directly; other
// columns are read as text.
var nativeTypes = map[string]bool{"int2": true, "int4": true, "int8": true, "oid": true, "float4": true,
	"float8": true, "numeric": true, "bool": true, "date": true, "timestamp": true, "timestamptz": true,
	"uuid": true, "text": true, "varchar": true, "bpchar": true, "name": true, "_text": true,
	"_varchar": true, "_bpchar": true}

// table is the catalog metadata of one table or view.
type table struct {
	name       string
	qname      string // quoted schema.table
	view       bool
	cols       []column
	byName     map[string]int
	pk         []int // primary key columns; for a view, its "id" column
	updatedAt  int   // -1 when absent
	softDelete int
	version    int
	intVersion bool              // version column is an integer the connector increments
	triggers   bool              // user triggers may change what is written
	spills     bool              // a write may change other rows too: rules, ON UPDATE actions of foreign keys referencing it
	constraint map[string]string // unique/check constraint or unique index name → its column
	obj        sdk.ObjectType
}

func (t *table) col(name string) (*column, bool) {
	i, ok := t.byName[name]
	if !ok {
		return nil, false
	}
	return &t.cols[i], true
}

// catalogColumnsSQL lists the columns of the schema's tables, views and
// materialized views, with what the type mapping needs.
const catalogColumnsSQL = `
SELECT c.relname, c.relkind::text, a.attname, a.attnotnull, a.atthasdef, a.attidentity::text, a.attgenerated::text,
       format_type(a.atttypid, NULL), COALESCE(NULLIF(a.atttypmod, -1), 0),
       t.typname, t.typtype::text,
       COALESCE(bt.typname, ''), COALESCE(bt.typtype::text, ''), COALESCE(et.typname, ''),
       COALESCE(NULLIF(bt.oid, 0), t.oid)::int8,
       CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, NULL) ELSE '' END,
       COALESCE(CASE WHEN a.atthasdef OR a.attidentity <> '' THEN pg_get_serial_sequence(c.oid::regclass::text, a.attname) END, ''),
       EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = c.oid AND NOT tg.tgisinternal),
       c.relhasrules OR EXISTS (SELECT 1 FROM pg_constraint fk WHERE fk.confrelid = c.oid AND fk.contype = 'f' AND fk.confupdtype NOT IN ('a', 'r'))
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_type et ON et.oid = (CASE WHEN t.typtype = 'd' THEN bt.typelem ELSE t.typelem END) AND et.oid <> 0
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm')
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY c.relname, a.attnum`

// catalogKeysSQL lists primary keys, unique indexes and single-column check
// and foreign-key constraints, with their column names.
const catalogKeysSQL = `
SELECT c.relname, ic.relname, CASE WHEN i.indisprimary THEN 'p' ELSE 'u' END,
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n ORDER BY k.o)::text[],
       i.indpred IS NULL AND i.indexprs IS NULL
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND (i.indisunique OR i.indisprimary)
UNION ALL
SELECT c.relname, co.conname, co.contype::text,
       ARRAY(SELECT a.attname FROM unnest(co.conkey) k(n) JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n)::text[],
       true
FROM pg_constraint co
JOIN pg_class c ON c.oid = co.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND co.contype IN ('c', 'f')`

const catalogEnumsSQL = `
SELECT t.oid::int8, e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid ORDER BY t.oid, e.enumsortorder`

// tables returns the catalog metadata, cached for schemaTTL; refresh forces a reload.
func (c *Conn) tables(ctx context.Context, refresh bool) (map[string]*table, error) {
	c.mu.Lock()
	if !refresh && c.cache != nil && time.Since(c.cachedAt) < schemaTTL {
		m := c.cache
		c.mu.Unlock()
		return m, nil
	}
	c.mu.Unlock()
	var m map[string]*table
	err := c.withConn(ctx, func(pc *pgx.Conn) error {
		var err error
		m, err = c.loadTables(ctx, pc)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cache, c.cachedAt = m, time.Now()
	c.mu.Unlock()
	return m, nil
}

// forgetCatalog drops the cached catalog, so the next call reads it again.
func (c *Conn) forgetCatalog() {
	c.mu.Lock()
	c.cache = nil
	c.mu.Unlock()
}

// table returns one object's metadata, reloading the catalog once when the
// cached copy does not know it.
func (c *Conn) table(ctx context.Context, name string) (*table, error) {
	m, err := c.tables(ctx, false)
	if err != nil {
		return nil, err
	}
	if t, ok := m[name]; ok {
		return t, nil
	}
	if m, err = c.tables(ctx, true); err != nil {
		return nil, err
	}
	if t, ok := m[name]; ok {
		return t, nil
	}
	return nil, sdk.Errorf(sdk.CategoryNotFound, "no table or view %q with a primary key in schema %q", name, c.set.schema)
}

// Schema lists the tables (with a primary key) and views (with an id column).
func (c *Conn) Schema(ctx context.Context) (sdk.Schema, error) {
	m, err := c.tables(ctx, false)
	if err != nil {
		return sdk.Schema{}, err
	}
	var s sdk.Schema
	for _, t := range m {
		s.Objects = append(s.Objects, t.obj)
	}
	slices.SortFunc(s.Objects, func(a, b sdk.ObjectType) int { return strings.Compare(a.Name, b.Name) })
	return s, nil
}

type rawColumn struct {
	rel, kind, name              string
	notNull, hasDefault          bool
	identity, generated          string
	castType                     string
	typmod                       int32
	typName, typType             string
	baseName, baseType, elemName string
	enumOID                      int64
	domainBase                   string
	sequence                     string // the sequence behind a serial or identity column
	triggers                     bool   // the relation has user triggers
	spills                       bool   // rules, or foreign keys cascading updates from it
}

func (c *Conn) loadTables(ctx context.Context, pc *pgx.Conn) (map[string]*table, error) {
	var exists bool
	if err := pc.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", c.set.schema).Scan(&exists); err != nil {
		return nil, mapQueryError(fmt.Errorf("read catalog: %w", err))
	}
	if !exists {
		return nil, sdk.FieldError("schema", "schema %q does not exist in database %q", c.set.schema, c.db)
	}
	enums := map[int64][]string{}
	rows, err := pc.Query(ctx, catalogEnumsSQL)
	if err != nil {
		return nil, mapQueryError(fmt.Errorf("read enums: %w", err))
	}
	for rows.Next() {
		var oid int64
		var label string
		if err := rows.Scan(&oid, &label); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read enums: %w", err)
		}
		enums[oid] = append(enums[oid], label)
	}
	if err := rows.Err(); err != nil {
		return nil, mapQueryError(fmt.Errorf("read enums: %w", err))
	}

	var raws []rawColumn
	rows, err = pc.Query(ctx, catalogColumnsSQL, c.set.schema)
	if err != nil {
		return nil, mapQueryError(fmt.Errorf("read columns: %w", err))
	}
	for rows.Next() {
		var r rawColumn
		if err := rows.Scan(&r.rel, &r.kind, &r.name, &r.notNull, &r.hasDefault, &r.identity, &r.generated,
			&r.castType, &r.typmod, &r.typName, &r.typType, &r.baseName, &r.baseType, &r.elemName, &r.enumOID, &r.domainBase, &r.sequence, &r.triggers, &r.spills); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read columns: %w", err)
		}
		raws = append(raws, r)
	}
	if err := rows.Err(); err != nil {
		return nil, mapQueryError(fmt.Errorf("read columns: %w", err))
	}

	keys := map[string][]keyInfo{}
	rows, err = pc.Query(ctx, catalogKeysSQL, c.set.schema)
	if err != nil {
		return nil, mapQueryError(fmt.Errorf("read keys: %w", err))
	}
	for rows.Next() {
		var rel string
		var k keyInfo
		if err := rows.Scan(&rel, &k.name, &k.kind, &k.cols, &k.plain); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read keys: %w", err)
		}
		keys[rel] = append(keys[rel], k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapQueryError(fmt.Errorf("read keys: %w", err))
	}

	out := map[string]*table{}
	for start := 0; start < len(raws); {
		end := start
		for end < len(raws) && raws[end].rel == raws[start].rel {
			end++
		}
		t := c.buildTable(raws[start:end], keys[raws[start].rel], enums)
		if t != nil {
			out[t.name] = t
		}
		start = end
	}
	return out, nil
}

// keyInfo is an index or constraint: kind p (primary key), u (unique), c (check), f (foreign key).
type keyInfo struct {
	name, kind string
	cols       []string
	plain      bool // no expression or predicate
}

// buildTable maps one relation's columns and keys onto an object type; nil
// when it has no usable record id.
func (c *Conn) buildTable(raws []rawColumn, keys []keyInfo, enums map[int64][]string) *table {
	r0 := raws[0]
	t := &table{name: r0.rel, qname: pgx.Identifier{c.set.schema, r0.rel}.Sanitize(), view: r0.kind == "v" || r0.kind == "m",
		byName: map[string]int{}, updatedAt: -1, softDelete: -1, version: -1, constraint: map[string]string{},
		triggers: r0.triggers, spills: r0.spills}
	unique := map[string]bool{}
	for _, k := range keys {
		switch {
		case k.kind == "p":
			for _, n := range k.cols {
				t.pk = append(t.pk, slices.Index(columnNames(raws), n))
			}
			t.constraint[k.name] = strings.Join(k.cols, ",")
		case len(k.cols) == 1:
			t.constraint[k.name] = k.cols[0]
			if k.kind == "u" && k.plain {
				unique[k.cols[0]] = true
			}
		}
	}
	for i, r := range raws {
		col := column{name: r.name, ident: pgx.Identifier{r.name}.Sanitize(), castType: r.castType}
		col.field = mapField(r, enums)
		col.list = col.field.Type == sdk.TypeStringList
		col.generated = r.generated != "" || r.identity != ""
		col.expr = "t." + col.ident
		if r.typType == "b" && copyTypes[r.typName] {
			col.copyType = r.typName
		}
		col.sequence, col.always = r.sequence, r.identity == "a"
		switch {
		case r.typType == "d" && (nativeTypes[r.baseName] || r.baseType == "e"):
			col.expr += "::" + r.domainBase // results carry the domain's own type id otherwise
		case r.typType == "d", r.typType != "e" && !nativeTypes[r.typName]:
			col.expr += "::text"
		}
		if r.domainBase != "" {
			col.castType = r.domainBase // casting to the domain itself would skip nothing; its checks run on assignment
			if col.list {
				col.castType = r.castType
			}
		}
		f := &col.field
		f.Unique = unique[r.name]
		switch {
		case t.view:
			f.ReadOnly = true
		case r.generated != "" || r.identity != "":
			f.ReadOnly = true
		case r.name == c.set.updatedAt, r.name == c.set.softDelete, r.name == c.set.version:
			f.ReadOnly = true
		}
		f.Required = r.notNull && !r.hasDefault && !f.ReadOnly
		switch r.name {
		case c.set.updatedAt:
			if f.Type == sdk.TypeDateTime {
				t.updatedAt = i
			}
		case c.set.softDelete:
			t.softDelete = i
		case c.set.version:
			t.version = i
			t.intVersion = f.Type == sdk.TypeInteger
		}
		t.byName[r.name] = i
		t.cols = append(t.cols, col)
	}
	if c.set.softDelete != "" && t.softDelete >= 0 {
		// Setting the soft-delete column is how deletes happen: never a plain field write.
		t.cols[t.softDelete].field.ReadOnly = true
	}
	if t.view {
		if i, ok := t.byName["id"]; ok {
			t.pk = []int{i}
		}
	}
	if len(t.pk) == 0 || slices.Contains(t.pk, -1) {
		return nil
	}
	if len(t.pk) == 1 {
		t.cols[t.pk[0]].field.Unique = true
	}
	obj := sdk.ObjectType{Name: t.name, Label: t.name, ReadOnly: t.view || len(t.pk) > 1,
		Incremental: t.updatedAt >= 0 && !t.view}
	obj.Tombstones = obj.Incremental && t.softDelete >= 0
	for _, col := range t.cols {
		if t.softDelete >= 0 && col.name == c.set.softDelete {
			continue // deleted rows are tombstones, not a field
		}
		f := col.field
		if obj.ReadOnly {
			f.ReadOnly, f.Required = true, false
		}
		obj.Fields = append(obj.Fields, f)
	}
	if _, ok := t.byName["datasync_id"]; ok && !obj.ReadOnly {
		obj.ExternalIDField = "datasync_id"
	}
	t.obj = obj
	return t
}

func columnNames(raws []rawColumn) []string {
	out := make([]string, len(raws))
	for i, r := range raws {
		out[i] = r.name
	}
	return out
}

// mapField maps a column's type onto a field type.
func mapField(r rawColumn, enums map[int64][]string) sdk.Field {
	f := sdk.Field{Name: r.name, Label: r.name, Type: sdk.TypeString}
	name, typ := r.typName, r.typType
	domain := typ == "d"
	if domain {
		name, typ = r.baseName, r.baseType
	}
	switch {
	case typ == "e":
		f.Type = sdk.TypeEnum
		f.EnumOptions = enums[r.enumOID]
	case name == "int2", name == "int4", name == "int8", name == "oid":
		f.Type = sdk.TypeInteger
	case name == "numeric", name == "float4", name == "float8", name == "money":
		f.Type = sdk.TypeDecimal
		if name == "money" {
			f.Type = sdk.TypeString // money's text carries a currency sign
		}
	case name == "bool":
		f.Type = sdk.TypeBoolean
	case name == "date":
		f.Type = sdk.TypeDate
	case name == "timestamp", name == "timestamptz":
		f.Type = sdk.TypeDateTime
	case name == "_text", name == "_varchar", name == "_bpchar":
		f.Type = sdk.TypeStringList
	case name == "varchar", name == "bpchar":
		if r.typmod > 4 && !domain {
			f.MaxLength = int(r.typmod - 4)
		}
	}
	if f.Type == sdk.TypeString && isEmailName(r.name, r.typName, domain) {
		f.Type = sdk.TypeEmail
	}
	return f
}

// isEmailName: a column named email or *_email, or a domain named like email.
func isEmailName(col, typName string, domain bool) bool {
	col = strings.ToLower(col)
	if col == "email" || strings.HasSuffix(col, "_email") {
		return true
	}
	return domain && strings.Contains(strings.ToLower(typName), "email")
}
