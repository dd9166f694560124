package filter

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/sdk"
)

// Program is a compiled filter. It is immutable and safe for concurrent use.
//
// Each schema field is a CEL variable typed after the field: text, email,
// phone, url, enum and date fields are strings (dates as "YYYY-MM-DD", which
// compare in order), integer fields int, decimal fields double, boolean
// fields bool, datetime fields timestamp, string_list fields list(string).
// Numbers compare across int and double (age > 30.5, amount > 100).
//
// A null value reads as its type's zero: "" for strings and dates, 0, 0.0,
// false, [] and timestamp 1970-01-01T00:00:00Z. So `email.endsWith("@x.com")`
// is false for a contact without email, `"vip" in tags` is false for no tags,
// `age < 18` is true for an unknown age (write `age > 0 && age < 18` to mean a
// known one), and no filter fails on a null.
//
// A field whose name is not a CEL identifier is available with every
// character other than letters, digits and _ replaced by _ ("First Name" as
// First_Name); a name that is a CEL reserved word gets a trailing _ (in_).
type Program struct {
	expr   string
	prg    cel.Program
	vars   map[string]variable // by CEL name
	fields []string            // schema fields the expression reads, sorted
}

type variable struct {
	field sdk.Field
	zero  ref.Val
}

// Compile checks expr against the fields and compiles it. The expression must
// give true or false. The error names the problem and, for an unknown name,
// lists the fields the filter can use.
func Compile(expr string, fields []sdk.Field) (*Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, errors.New("filter is empty: write a condition such as lifecycle_stage == \"customer\"")
	}
	vars := make(map[string]variable, len(fields))
	names := make([]string, 0, len(fields))
	opts := []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.DefaultUTCTimeZone(true),
		ext.Strings(),
	}
	// Fields whose names are already identifiers first, so that a sanitized
	// alias never takes the name of a real field.
	for pass := range 2 {
		for _, f := range fields {
			name := Identifier(f.Name)
			if (name == f.Name) != (pass == 0) {
				continue
			}
			if _, taken := vars[name]; taken {
				continue // a second field with the same identifier is not reachable
			}
			t, zero := celType(f.Type)
			vars[name] = variable{field: f, zero: zero}
			names = append(names, name)
			opts = append(opts, cel.Variable(name, t))
		}
	}
	sort.Strings(names)
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("filter %q: declare fields: %w", expr, err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		msg := fmt.Sprintf("filter %q: %s", expr, strings.ReplaceAll(iss.Err().Error(), "ERROR: <input>:", ""))
		if strings.Contains(msg, "undeclared reference") {
			msg += "\nknown fields: " + strings.Join(names, ", ")
		}
		return nil, errors.New(msg)
	}
	if out := ast.OutputType(); !out.IsExactType(cel.BoolType) && !out.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("filter %q gives %s, not true or false: compare it to a value (%s == ...) or call a function that answers yes or no",
			expr, out, expr)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", expr, err)
	}
	p := &Program{expr: expr, prg: prg, vars: vars}
	seen := map[string]bool{}
	for _, r := range ast.NativeRep().ReferenceMap() {
		if v, ok := vars[r.Name]; ok && !seen[v.field.Name] {
			seen[v.field.Name] = true
			p.fields = append(p.fields, v.field.Name)
		}
	}
	sort.Strings(p.fields)
	return p, nil
}

// String returns the expression.
func (p *Program) String() string { return p.expr }

// Fields returns the names of the schema fields the expression reads, sorted:
// a record must be read with at least these for Match.
func (p *Program) Fields() []string { return append([]string(nil), p.fields...) }

// Match evaluates the filter on one record, whose values are aligned with
// fields. A field the expression reads but fields lacks is an error, as is a
// value that cannot be read as its field's type.
func (p *Program) Match(fields []string, values []sdk.Value) (bool, error) {
	out, _, err := p.prg.Eval(&activation{p: p, fields: fields, values: values})
	if err != nil {
		return false, fmt.Errorf("filter %q: %w", p.expr, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("filter %q gave %v, not true or false", p.expr, out)
	}
	return bool(b), nil
}

// activation hands CEL the record's values by name, converting only those
// the expression reads.
type activation struct {
	p      *Program
	fields []string
	values []sdk.Value
}

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) ResolveName(name string) (any, bool) {
	v, ok := a.p.vars[name]
	if !ok {
		return nil, false
	}
	for i, f := range a.fields {
		if f == v.field.Name {
			if i >= len(a.values) {
				break
			}
			return celValue(v, a.values[i]), true
		}
	}
	return types.NewErr("field %s was not read for the filter", v.field.Name), true
}

func celType(t sdk.FieldType) (*cel.Type, ref.Val) {
	switch t {
	case sdk.TypeInteger:
		return cel.IntType, types.IntZero
	case sdk.TypeDecimal:
		return cel.DoubleType, types.Double(0)
	case sdk.TypeBoolean:
		return cel.BoolType, types.False
	case sdk.TypeDateTime:
		return cel.TimestampType, types.Timestamp{Time: time.Unix(0, 0).UTC()}
	case sdk.TypeStringList:
		return cel.ListType(cel.StringType), types.NewStringList(types.DefaultTypeAdapter, nil)
	}
	return cel.StringType, types.String("")
}

// celValue converts a record value to the CEL type of its field.
func celValue(v variable, x sdk.Value) ref.Val {
	if x.Kind == sdk.KindNull {
		return v.zero
	}
	switch v.field.Type {
	case sdk.TypeInteger:
		if x.Kind == sdk.KindInteger {
			return types.Int(x.Int)
		}
	case sdk.TypeDecimal:
		if x.Kind == sdk.KindDecimal {
			f, err := strconv.ParseFloat(x.Str, 64)
			if err != nil {
				return types.NewErr("field %s: %q is not a number", v.field.Name, x.Str)
			}
			return types.Double(f)
		}
	case sdk.TypeBoolean:
		if x.Kind == sdk.KindBoolean {
			return types.Bool(x.Bool)
		}
	case sdk.TypeDateTime:
		if x.Kind == sdk.KindDateTime {
			return types.Timestamp{Time: x.Time}
		}
	case sdk.TypeStringList:
		if x.Kind == sdk.KindStringList {
			return types.NewStringList(types.DefaultTypeAdapter, x.List)
		}
	case sdk.TypeDate:
		if x.Kind == sdk.KindString || x.Kind == sdk.KindDate {
			return types.String(x.Str)
		}
	default: // text of any kind reads as its text
		if x.Kind == sdk.KindString || x.Kind == sdk.KindDate {
			return types.String(x.Str)
		}
		return types.String(x.Text())
	}
	// A value of another kind than its field's: convert it as a mapping would.
	y, err := mapping.Convert(x, v.field)
	if err != nil {
		return types.NewErr("field %s: %v", v.field.Name, err)
	}
	if y.Kind == sdk.KindNull {
		return v.zero
	}
	if y.Kind == x.Kind { // cannot happen for the typed fields above; no endless recursion either way
		return types.NewErr("field %s: a %s value cannot be read as %s", v.field.Name, x.Kind, v.field.Type)
	}
	return celValue(v, y)
}

// Identifier is the CEL name of a field: the name itself when it is an
// identifier, else with other characters replaced by _ (and a leading _
// before a digit); a reserved word gets a trailing _.
func Identifier(name string) string {
	var b strings.Builder
	for i, r := range name {
		switch {
		case r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
			b.WriteRune(r)
		case '0' <= r && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if s == "" {
		return "_"
	}
	if reserved(s) {
		s += "_"
	}
	return s
}

func reserved(s string) bool {
	switch s {
	case "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
		"import", "let", "loop", "package", "namespace", "return", "var", "void", "while":
		return true
	}
	return false
}
