package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/datasync-io/datasync/host/engine"
	"github.com/datasync-io/datasync/host/filter"
	"github.com/datasync-io/datasync/host/mapping"
	"github.com/datasync-io/datasync/host/store"
	"github.com/datasync-io/datasync/host/syncdef"
	"github.com/datasync-io/datasync/sdk"
)

func (e *env) syncCreateCommand() *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "define a sync between an object of two connections",
		ArgsUsage: "NAME",
		UsageText: "datasync sync create NAME --left CONN/OBJECT --right CONN/OBJECT [--match L=R]... [--default-mappings] [options]",
		Description: `Launches both connections' plugins to read their schemas: the objects and
every named field must exist, and filters must compile against them. The
sync is saved as a draft: "sync plan" and "sync run" work on it at once;
"sync activate" hands it to the daemon's schedule (--every). Sides not given
are asked for when stdin is a terminal.

Match keys pair records: by default the email fields, when both sides have
one; give --match LEFT=RIGHT (repeatable, later keys are fallbacks)
otherwise. --default-mappings maps the fields whose names and types agree
(same name, case/underscore variants, synonyms such as first_name/givenName);
the match key fields are always mapped. Add or change mappings with
"sync map".

Filters are CEL over the side's fields; a record that stops matching is
excluded (it stops syncing, nothing is deleted).

Examples:
   datasync sync create crm-news --left crm/contacts --right news/subscribers --default-mappings
   datasync sync create crm-ldap --left crm/contacts --right ldap/people --match email=mail \
       --direction left-to-right --create-in right --filter-left 'lifecycle_stage == "customer"'`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "left", Usage: "the left side, `CONN/OBJECT`"},
			&cli.StringFlag{Name: "right", Usage: "the right side, `CONN/OBJECT`"},
			&cli.BoolFlag{Name: "default-mappings", Usage: "map fields whose names and types match across the two schemas"},
		}, optionFlags(false)...),
		Action: e.syncCreate,
	}
}

// optionFlags are the options "sync create" and "sync set" share. For set
// (change) they have no defaults: only those given change.
func optionFlags(change bool) []cli.Flag {
	def := func(v string) string {
		if change {
			return ""
		}
		return v
	}
	match := "a match key, `LEFT_FIELD=RIGHT_FIELD` (repeatable: fallbacks; default: the email fields)"
	every := "the daemon's schedule once active, e.g. 5m (default: serve --default-every, 15m)"
	none := ""
	if change {
		match = "the match keys, `LEFT_FIELD=RIGHT_FIELD` (repeatable; replaces them all)"
		every = "the daemon's schedule, e.g. 5m (0: serve's --default-every)"
		none = " (empty: none)"
	}
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "match", Usage: match},
		&cli.StringFlag{Name: "direction", Usage: "where updates flow: two-way, left-to-right or right-to-left", Value: def(string(syncdef.DefaultDirection))},
		&cli.StringFlag{Name: "create-in", Usage: "where new records may be created: both, left, right or none", Value: def(string(syncdef.DefaultCreateIn))},
		&cli.StringFlag{Name: "conflict", Usage: "rule for a field changed differently on both sides: most-recent, prefer-left, prefer-right, fill-only or manual", Value: def(string(syncdef.DefaultConflict))},
		&cli.StringFlag{Name: "source-of-truth", Usage: "the side that wins most-recent conflicts too close in time to tell: left or right", Value: def(syncdef.DefaultSource)},
		&cli.StringFlag{Name: "deletes", Usage: "what a delete does to the linked record: ignore, propagate or queue", Value: def(string(syncdef.DefaultDeletes))},
		&cli.StringFlag{Name: "filter-left", Usage: "CEL `EXPR` over left fields: which left records sync" + none},
		&cli.StringFlag{Name: "filter-right", Usage: "CEL `EXPR` over right fields: which right records sync" + none},
		&cli.StringFlag{Name: "every", Usage: every},
	}
}

// applyOptions sets def's options from the flags of optionFlags: every one
// (create), or only those given (set).
func applyOptions(c *cli.Context, def *syncdef.Definition, all bool) error {
	given := func(name string) bool { return all || c.IsSet(name) }
	var err error
	if given("match") {
		def.Match = nil
		for _, m := range c.StringSlice("match") {
			l, r, err := parseFieldPair(c, "match", m)
			if err != nil {
				return err
			}
			def.Match = append(def.Match, syncdef.MatchKey{Left: l, Right: r})
		}
	}
	if given("direction") {
		if def.Direction, err = mapping.ParseDirection(c.String("direction")); err != nil {
			return usageErrorf(c, "--direction: %v", err)
		}
	}
	if given("conflict") {
		if def.Conflict, err = mapping.ParseRule(c.String("conflict")); err != nil {
			return usageErrorf(c, "--conflict: %v", err)
		}
	}
	if given("create-in") {
		def.CreateIn = syncdef.CreateIn(c.String("create-in"))
	}
	if given("source-of-truth") {
		def.SourceOfTruth = c.String("source-of-truth")
	}
	if given("deletes") {
		def.Deletes = syncdef.Deletes(c.String("deletes"))
	}
	if given("filter-left") {
		def.FilterLeft = c.String("filter-left")
	}
	if given("filter-right") {
		def.FilterRight = c.String("filter-right")
	}
	if given("every") {
		def.Every = 0
		if s := c.String("every"); s != "0" && s != "" {
			if err := def.Every.UnmarshalText([]byte(s)); err != nil {
				return usageErrorf(c, "--every: %v", err)
			}
		}
	}
	return nil
}

// parseFieldPair reads LEFT=RIGHT.
func parseFieldPair(c *cli.Context, flag, s string) (string, string, error) {
	l, r, ok := strings.Cut(s, "=")
	l, r = strings.TrimSpace(l), strings.TrimSpace(r)
	if !ok || l == "" || r == "" {
		return "", "", usageErrorf(c, "--%s %q: write it as LEFT_FIELD=RIGHT_FIELD", flag, s)
	}
	return l, r, nil
}

// emailField picks an object's email field: one of type email (the one
// named "email" first), else a text field named email.
func emailField(o sdk.ObjectType) (string, bool) {
	var typed []string
	for _, f := range o.Fields {
		if f.Type == sdk.TypeEmail {
			typed = append(typed, f.Name)
		}
	}
	for _, n := range typed {
		if strings.EqualFold(n, "email") {
			return n, true
		}
	}
	if len(typed) > 0 {
		return typed[0], true
	}
	for _, f := range o.Fields {
		if strings.EqualFold(f.Name, "email") && f.Type == sdk.TypeString {
			return f.Name, true
		}
	}
	return "", false
}

// checkAgainst checks a definition against the two object types: fields,
// reachability of mappings, value maps on enum fields and filters.
func checkAgainst(def syncdef.Definition, lo, ro sdk.ObjectType) error {
	errs := []error{def.Validate(), def.CheckSchemas(lo, ro)}
	for i, m := range def.Mappings {
		lf, okL := lo.Field(m.Left)
		rf, okR := ro.Field(m.Right)
		if !okL || !okR || len(m.ValueMap) == 0 {
			continue
		}
		for l, r := range m.ValueMap {
			if len(lf.EnumOptions) > 0 && !slices.Contains(lf.EnumOptions, l) {
				errs = append(errs, &syncdef.FieldError{Field: fmt.Sprintf("mappings[%d].value_map", i),
					Problem: fmt.Sprintf("%q is not an option of left field %s", l, m.Left),
					Fix:     "use one of " + strings.Join(lf.EnumOptions, ", ")})
			}
			if len(rf.EnumOptions) > 0 && !slices.Contains(rf.EnumOptions, r) {
				errs = append(errs, &syncdef.FieldError{Field: fmt.Sprintf("mappings[%d].value_map", i),
					Problem: fmt.Sprintf("%q is not an option of right field %s", r, m.Right),
					Fix:     "use one of " + strings.Join(rf.EnumOptions, ", ")})
			}
		}
	}
	for _, f := range []struct {
		flag, expr string
		obj        sdk.ObjectType
	}{{"--filter-left", def.FilterLeft, lo}, {"--filter-right", def.FilterRight, ro}} {
		if f.expr == "" {
			continue
		}
		if _, err := filter.Compile(f.expr, f.obj.Fields); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", f.flag, f.expr, err))
		}
	}
	return errors.Join(errs...)
}

// checkAndSave validates a changed definition, against both sides' schemas
// when schemas (launching their plugins: new fields or filters to check),
// and saves it.
func (e *env) checkAndSave(ctx context.Context, st *store.Store, def syncdef.Definition, state string, schemas bool) error {
	if schemas {
		conns := e.newSideConns()
		defer conns.close()
		lo, ro, err := conns.objects(ctx, def)
		if err != nil {
			return err
		}
		if err := checkAgainst(def, lo, ro); err != nil {
			return invalidDefinition(def.Name, err)
		}
	} else if err := def.Validate(); err != nil {
		return invalidDefinition(def.Name, err)
	}
	return saveSync(ctx, st, def, state)
}

// invalidDefinition presents validation problems one per line.
func invalidDefinition(name string, err error) error {
	var lines []string
	for _, line := range strings.Split(err.Error(), "\n") {
		lines = append(lines, "  - "+line)
	}
	return fmt.Errorf("sync %s is not valid:\n%s", name, strings.Join(lines, "\n"))
}

func (e *env) syncCreate(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "sync NAME")
	if err != nil {
		return err
	}
	def := syncdef.Definition{Name: name}
	sides := map[string]string{syncdef.Left: c.String("left"), syncdef.Right: c.String("right")}
	var missing []sdk.ConfigField
	for _, s := range []string{syncdef.Left, syncdef.Right} {
		if sides[s] == "" {
			missing = append(missing, sdk.ConfigField{Name: s, Label: strings.ToUpper(s[:1]) + s[1:] + " side",
				Description: "CONNECTION/OBJECT, e.g. crm/contacts"})
		}
	}
	if len(missing) > 0 {
		if !e.interactive() {
			return usageErrorf(c, "--left and --right are required, e.g. --left crm/contacts --right news/subscribers")
		}
		if err := e.promptFields(missing, sides, nil); err != nil {
			return err
		}
	}
	if def.Left, err = syncdef.ParseSide(sides[syncdef.Left]); err != nil {
		return usageErrorf(c, "--left: %v", err)
	}
	if def.Right, err = syncdef.ParseSide(sides[syncdef.Right]); err != nil {
		return usageErrorf(c, "--right: %v", err)
	}
	if err := applyOptions(c, &def, true); err != nil {
		return err
	}
	def = def.WithDefaults()
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Sync(ctx, name); err == nil {
		return fmt.Errorf("sync %s already exists: change it with `datasync sync map %s` or delete it with `datasync sync delete %s`", name, name, name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for _, side := range []syncdef.Side{def.Left, def.Right} {
		if _, err := st.Connection(ctx, side.Connection); err != nil {
			return connectionError(side.Connection, err)
		}
	}
	conns := e.newSideConns()
	defer conns.close()
	lo, ro, err := conns.objects(ctx, def)
	if err != nil {
		return err
	}
	if len(def.Match) == 0 {
		le, okL := emailField(lo)
		re, okR := emailField(ro)
		if !okL || !okR {
			return usageErrorf(c, "no email field on both sides to match records by: give --match LEFT_FIELD=RIGHT_FIELD")
		}
		def.Match = []syncdef.MatchKey{{Left: le, Right: re}}
	}
	if c.Bool("default-mappings") {
		def.Mappings = mapping.DefaultMappings(lo, ro)
	}
	// Match keys are mapped too: a record created on the other side carries
	// its key, so it is matched, not duplicated, after a lost link.
	for _, k := range def.Match {
		if mappedLeft(def, k.Left) < 0 && mappedRight(def, k.Right) < 0 {
			def.Mappings = append(def.Mappings, mapping.FieldMap{Left: k.Left, Right: k.Right})
		}
	}
	if err := checkAgainst(def, lo, ro); err != nil {
		return invalidDefinition(name, err)
	}
	if err := saveSync(ctx, st, def, store.SyncDraft); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Created sync %s (draft): %s ⇄ %s, %s\n", name, def.Left, def.Right, def.Direction)
	e.printDefinition(def, store.SyncDraft)
	fmt.Fprintf(e.stdout, "\nNext: `datasync sync plan %s` to see what a run would do, `datasync sync run %s` to run it once,\n"+
		"`datasync sync activate %s` to let the daemon run it.\n", name, name, name)
	return nil
}

func mappedLeft(def syncdef.Definition, field string) int {
	return slices.IndexFunc(def.Mappings, func(m mapping.FieldMap) bool { return m.Left == field })
}

func mappedRight(def syncdef.Definition, field string) int {
	return slices.IndexFunc(def.Mappings, func(m mapping.FieldMap) bool { return m.Right == field })
}

func (e *env) syncMapCommand() *cli.Command {
	return &cli.Command{
		Name:      "map",
		Usage:     "add, change or remove a field mapping of a sync",
		ArgsUsage: "NAME",
		UsageText: "datasync sync map NAME --add LEFT=RIGHT [--direction D] [--conflict RULE] [--value-map 'l:r,...'] [--transform T]... | --remove LEFT...",
		Description: `--add maps a left field to a right field; when the left field is mapped
already, that mapping is changed (options not given are kept). The fields
must exist in the schemas (the plugins are launched to read them).
--value-map translates values (left:right pairs, the inverse is used right
to left); --transform trim|lower|upper rewrites values written either way.
Per-mapping --direction and --conflict override the sync's.

Removing a mapping leaves the records in step alone: the next run reads
only what changed. An added or changed mapping is merged for every linked
pair by the next run: 2,000 links at a time, each pair looked up by id with
its keys and the mapping's fields, when both connectors look records up by
id; otherwise from complete reads of both sides.

Examples:
   datasync sync map crm-news --add lifecycle_stage=stage --value-map 'lead:Lead,customer:Customer'
   datasync sync map crm-news --add email=email --transform lower --transform trim
   datasync sync map crm-news --add notes=comments --direction left-to-right --conflict fill-only
   datasync sync map crm-news --remove phone`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "add", Usage: "map `LEFT=RIGHT` (or change the mapping of LEFT)"},
			&cli.StringSliceFlag{Name: "remove", Usage: "remove the mapping of left field `LEFT` (repeatable)"},
			&cli.StringFlag{Name: "direction", Usage: "this mapping's direction: two-way, left-to-right or right-to-left"},
			&cli.StringFlag{Name: "conflict", Usage: "this mapping's rule: most-recent, prefer-left, prefer-right, fill-only or manual"},
			&cli.StringFlag{Name: "value-map", Usage: "value translations, `'left:right,...'` (e.g. 'lead:Lead,customer:Customer')"},
			&cli.StringSliceFlag{Name: "transform", Usage: "trim, lower or upper (repeatable, applied in order)"},
		},
		Action: e.syncMap,
	}
}

func (e *env) syncMap(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "sync NAME")
	if err != nil {
		return err
	}
	add, removes := c.String("add"), c.StringSlice("remove")
	if add == "" && len(removes) == 0 {
		return usageErrorf(c, "give --add LEFT=RIGHT or --remove LEFT")
	}
	if add == "" && (c.IsSet("direction") || c.IsSet("conflict") || c.IsSet("value-map") || c.IsSet("transform")) {
		return usageErrorf(c, "--direction, --conflict, --value-map and --transform apply to --add")
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sy, def, err := loadSync(ctx, st, name)
	if err != nil {
		return err
	}
	for _, l := range removes {
		i := mappedLeft(def, l)
		if i < 0 {
			return fmt.Errorf("sync %s maps no left field %q; mapped: %s", name, l, mappedNames(def))
		}
		def.Mappings = slices.Delete(def.Mappings, i, i+1)
		fmt.Fprintf(e.stdout, "Removed mapping %s\n", l)
	}
	var changed *mapping.FieldMap
	if add != "" {
		l, r, err := parseFieldPair(c, "add", add)
		if err != nil {
			return err
		}
		m := mapping.FieldMap{Left: l, Right: r}
		i := mappedLeft(def, l)
		if i >= 0 {
			m = def.Mappings[i]
			m.Right = r
		}
		if s := c.String("direction"); s != "" {
			if m.Direction, err = mapping.ParseDirection(s); err != nil {
				return usageErrorf(c, "--direction: %v", err)
			}
		}
		if s := c.String("conflict"); s != "" {
			if m.Rule, err = mapping.ParseRule(s); err != nil {
				return usageErrorf(c, "--conflict: %v", err)
			}
		}
		if c.IsSet("value-map") {
			if m.ValueMap, err = mapping.ParseValueMap(c.String("value-map")); err != nil {
				return usageErrorf(c, "--value-map: %v", err)
			}
			if len(m.ValueMap) == 0 {
				m.ValueMap = nil
			}
		}
		if c.IsSet("transform") {
			m.Transforms = nil
			for _, s := range c.StringSlice("transform") {
				t, err := mapping.ParseTransform(s)
				if err != nil {
					return usageErrorf(c, "--transform: %v", err)
				}
				m.Transforms = append(m.Transforms, t)
			}
		}
		if i >= 0 {
			def.Mappings[i] = m
			changed = &def.Mappings[i]
		} else {
			def.Mappings = append(def.Mappings, m)
			changed = &def.Mappings[len(def.Mappings)-1]
		}
	}
	if err := e.checkAndSave(ctx, st, def, sy.State, add != ""); err != nil {
		return err
	}
	if changed != nil {
		fmt.Fprintf(e.stdout, "Mapped %s\n", mappingText(def, *changed))
		// Said with the scale: a million linked records take minutes and
		// gigabytes of memory to merge again (BENCHMARKS.md).
		n, err := st.LinkCount(ctx, name)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(e.stdout, "The next run reads both sides whole and merges all %d linked records again for it.\n", n)
		}
	} else {
		fmt.Fprintln(e.stdout, "Records in step stay as they are: the next run reads only what changed.")
	}
	return nil
}

func mappedNames(def syncdef.Definition) string {
	var s []string
	for _, m := range def.Mappings {
		s = append(s, m.Left)
	}
	return strings.Join(s, ", ")
}

// mappingText is one mapping as a line: fields, direction, rule, options.
func mappingText(def syncdef.Definition, m mapping.FieldMap) string {
	arrow := map[mapping.Direction]string{mapping.DirTwoWay: "⇄", mapping.DirLeftToRight: "→", mapping.DirRightToLeft: "←"}
	s := fmt.Sprintf("%s %s %s  (%s", m.Left, arrow[def.MappingDirection(m)], m.Right, def.MappingRule(m))
	if len(m.ValueMap) > 0 {
		keys := make([]string, 0, len(m.ValueMap))
		for k := range m.ValueMap {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var pairs []string
		for _, k := range keys {
			pairs = append(pairs, k+":"+m.ValueMap[k])
		}
		s += ", values " + strings.Join(pairs, ",")
	}
	for _, t := range m.Transforms {
		s += ", " + string(t)
	}
	return s + ")"
}

// printDefinition writes a definition as an admin reads it.
func (e *env) printDefinition(def syncdef.Definition, state string) {
	w := e.stdout
	fmt.Fprintf(w, "Sync %s (%s)\n", def.Name, state)
	fmt.Fprintf(w, "  left:            %s\n", def.Left)
	fmt.Fprintf(w, "  right:           %s\n", def.Right)
	var keys []string
	for _, k := range def.Match {
		keys = append(keys, k.Left+"="+k.Right)
	}
	fmt.Fprintf(w, "  match:           %s\n", strings.Join(keys, ", then "))
	fmt.Fprintf(w, "  direction:       %s\n", def.Direction)
	fmt.Fprintf(w, "  create in:       %s\n", def.CreateIn)
	fmt.Fprintf(w, "  conflicts:       %s (source of truth %s, skew window %s)\n", def.Conflict, def.SourceOfTruth, time.Duration(def.SkewWindow))
	fmt.Fprintf(w, "  deletes:         %s\n", def.Deletes)
	if def.FilterLeft != "" {
		fmt.Fprintf(w, "  filter left:     %s\n", def.FilterLeft)
	}
	if def.FilterRight != "" {
		fmt.Fprintf(w, "  filter right:    %s\n", def.FilterRight)
	}
	if def.Every > 0 {
		fmt.Fprintf(w, "  every:           %s\n", time.Duration(def.Every))
	} else {
		fmt.Fprintf(w, "  every:           serve's --default-every (15m unless set)\n")
	}
	fmt.Fprintf(w, "  mappings (%d):\n", len(def.Mappings))
	for _, m := range def.Mappings {
		fmt.Fprintf(w, "    %s\n", mappingText(def, m))
	}
}

// syncView is a stored sync as --json shows it: the definition plus state.
type syncView struct {
	syncdef.Definition
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func (e *env) syncShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a sync's whole definition",
		ArgsUsage: "NAME",
		UsageText: "datasync sync show NAME [--json]",
		Description: `Examples:
   datasync sync show crm-news
   datasync sync show crm-news --json | jq .mappings`,
		Flags: []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			return e.withSync(c, func(_ *store.Store, sy store.Sync, def syncdef.Definition) error {
				return e.jsonOrText(c, syncView{def, sy.State, sy.Created, sy.Updated}, func() error {
					e.printDefinition(def, sy.State)
					return nil
				})
			})
		},
	}
}

func (e *env) syncListCommand() *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list syncs with their state and last run",
		UsageText: "datasync sync list [--json]",
		Description: `Examples:
   datasync sync list
   datasync sync list --json | jq -r '.[] | select(.state == "active") | .name'`,
		Flags:  []cli.Flag{jsonFlag()},
		Action: e.syncList,
	}
}

type syncListEntry struct {
	Name      string            `json:"name"`
	State     string            `json:"state"`
	Left      string            `json:"left"`
	Right     string            `json:"right"`
	Direction mapping.Direction `json:"direction"`
	Every     string            `json:"every,omitempty"`
	LastRun   *engine.RunView   `json:"last_run"`
}

func (e *env) syncList(c *cli.Context) error {
	ctx := c.Context
	if c.NArg() > 0 {
		return usageErrorf(c, "sync list takes no arguments")
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	syncs, err := st.Syncs(ctx)
	if err != nil {
		return err
	}
	out := []syncListEntry{}
	for _, sy := range syncs {
		def, err := syncdef.Parse(sy.Definition)
		if err != nil {
			return fmt.Errorf("sync %s: stored definition: %w", sy.Name, err)
		}
		en := syncListEntry{Name: sy.Name, State: sy.State, Left: def.Left.String(), Right: def.Right.String(), Direction: def.Direction}
		if def.Every > 0 {
			en.Every = time.Duration(def.Every).String()
		}
		runs, err := st.Runs(ctx, sy.Name, 1)
		if err != nil {
			return err
		}
		if len(runs) > 0 {
			v := engine.NewRunView(runs[0])
			en.LastRun = &v
		}
		out = append(out, en)
	}
	return e.jsonOrText(c, out, func() error {
		if len(out) == 0 {
			fmt.Fprintln(e.stdout, "No syncs yet: create one with `datasync sync create NAME --left CONN/OBJECT --right CONN/OBJECT`")
			return nil
		}
		t := e.newTable("NAME", "STATE", "LEFT", "RIGHT", "DIRECTION", "LAST RUN")
		for _, en := range out {
			last := "never"
			if r := en.LastRun; r != nil {
				last = r.Status + " " + r.Started.Local().Format("2006-01-02 15:04:05")
			}
			t.row(en.Name, en.State, en.Left, en.Right, string(en.Direction), last)
		}
		return t.flush()
	})
}

func (e *env) syncStateCommand(name, state, usage, done string) *cli.Command {
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "NAME",
		UsageText: "datasync sync " + name + " NAME",
		Description: fmt.Sprintf(`The daemon runs active syncs on their schedule (--every); drafts and paused
syncs run only with "sync run".

Examples:
   datasync sync %s crm-news`, name),
		Action: func(c *cli.Context) error {
			return e.withSync(c, func(st *store.Store, sy store.Sync, def syncdef.Definition) error {
				if err := st.SetSyncState(c.Context, sy.Name, state); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, done+"\n", sy.Name)
				if state == store.SyncActive && def.Every == 0 {
					fmt.Fprintf(e.stdout, "Note: it has no schedule: set one with `datasync sync set %s --every 5m`, or run it with `datasync sync run %s`\n", sy.Name, sy.Name)
				}
				return nil
			})
		},
	}
}

func (e *env) syncDeleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a sync and all its state (the apps' records are left alone)",
		ArgsUsage: "NAME",
		UsageText: "datasync sync delete NAME",
		Description: `Forgets the definition, links, errors, conflicts and history. No record is
deleted in either app.

Examples:
   datasync sync delete crm-news`,
		Action: func(c *cli.Context) error {
			return e.withSync(c, func(st *store.Store, sy store.Sync, _ syncdef.Definition) error {
				if err := st.DeleteSync(c.Context, sy.Name); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Deleted sync %s\n", sy.Name)
				return nil
			})
		},
	}
}

func (e *env) syncSetCommand() *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "change a sync's options (keys, direction, rules, deletes, filters, schedule)",
		ArgsUsage: "NAME",
		UsageText: "datasync sync set NAME [--match L=R]... [--direction D] [--create-in W] [--conflict RULE] [--source-of-truth S] [--deletes D] [--filter-left EXPR] [--filter-right EXPR] [--every 5m]",
		Description: `Changes only the options given; links and history are kept. New match
keys and filters are checked against the schemas (the plugins are launched).
An empty --filter-left/--filter-right removes the filter; --every 0 leaves
the sync to "sync run" only. Changing keys makes the next run read both
sides in full and merge every record again. Changing a filter makes it read
both sides in full, first with only ids, versions, keys and the fields the
filters use: the records in step whose verdict did not change need nothing,
and only the others are looked up by id (or read again) with all their
values and merged. For an added or changed mapping, see "sync map --help".

Examples:
   datasync sync set crm-news --every 10m
   datasync sync set crm-news --filter-left 'lifecycle_stage == "customer"'
   datasync sync set crm-news --match email=email --match phone=telephoneNumber`,
		Flags:  optionFlags(true),
		Action: e.syncSet,
	}
}

func (e *env) syncSet(c *cli.Context) error {
	ctx := c.Context
	name, err := oneArg(c, "sync NAME")
	if err != nil {
		return err
	}
	if c.NumFlags() == 0 {
		return usageErrorf(c, "give at least one option to change")
	}
	st, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sy, def, err := loadSync(ctx, st, name)
	if err != nil {
		return err
	}
	if err := applyOptions(c, &def, false); err != nil {
		return err
	}
	schemas := c.IsSet("match") || c.IsSet("filter-left") && def.FilterLeft != "" || c.IsSet("filter-right") && def.FilterRight != ""
	if err := e.checkAndSave(ctx, st, def, sy.State, schemas); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "Changed sync %s\n", name)
	e.printDefinition(def, sy.State)
	return nil
}
