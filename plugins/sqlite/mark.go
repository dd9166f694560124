package main

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/datasync-io/datasync/sdk"
)

// Echo marks. SQLite has no transaction ids, but the connector stamps the
// updated-at column itself, with stamps unique within the process: a row
// whose id and updated-at are both what a write of ours stored is still in
// the state that write left, as far as the host can tell (the host, too,
// takes the same version for "unchanged"). A mark names such (row, stamp)
// pairs exactly, and an incremental read given it leaves out, in SQL, the
// rows still at one of them. Anyone who changed a row since, through the
// connector or plain SQL setting updated-at, gave it another stamp, and the
// row is read. The one way to skip a change wrongly is to store the very
// same (id, stamp) pair again, a stamp this process already handed out.
//
// The stamps of one batch are consecutive microseconds (writer.stamp), so
// a run of creates into a rowid table, which get consecutive rowids, is
// one mark however long:
//
//	sq1:r:<first rowid>:<last rowid>:<stamp of the first, µs>
//
// rows first+k stamped stamp+k. The other rows a batch wrote to a rowid
// table (updates spread through the table, say) share one mark:
//
//	sq1:s:<least stamp, µs>:<rowid>.<its stamp's offset from it>,…
//
// (on the first of those rows' results only; the host keeps a side's marks
// together), and in any other table each written row gets its own:
//
//	sq1:i:<stamp, µs>:<id kind><id text>
//
// (kinds as in cursors: i integer, r real, t text; the id last, as it may
// hold ':'). The stamp is stored as the table stores it: Unix µs in an
// integer column, stampLayout text otherwise.

// markPrefix tells this connector's marks (version 1) from others'.
const markPrefix = "sq1:"

const (
	// maxRangeTerms bounds the SQL terms range marks become (one per
	// second a text-stamped range spans); further ranges are looked up as
	// single rows, within maxSkipRows, and then left out: their rows are
	// read, which is correct.
	maxRangeTerms = 500
	// maxSkipRows bounds the single (row, stamp) pairs of one read.
	maxSkipRows = 50_000
	// maxStampMicros is the last microsecond of year 9999: the stamps
	// stampLayout can write.
	maxStampMicros = 253402300799999999
)

// marksWrites reports whether t's writes can be marked: the connector
// stamps the updated-at column, and no trigger can change a row behind the
// op that stored it. The connection leaves foreign_keys off, so no foreign
// key action changes rows for the ops either.
func marksWrites(t *table) bool { return t.uaCol >= 0 && !t.triggers }

// written is what one successful create or update stored, for its mark:
// the row's id and its stamp. ok is false for ops that get no mark.
type written struct {
	ok     bool
	create bool
	rowid  int64  // rowid tables
	id     string // other tables: the id's kind and text
	us     int64
}

// wrote returns what the op whose outcome is out stored, for its mark.
func (w *writer) wrote(out outcome) written {
	t := w.t
	if !marksWrites(t) || out.at.IsZero() {
		return written{}
	}
	id := out.id
	if !out.bound {
		// Read back: mark the row only as it is stored.
		if out.row[t.uaCol+1] != t.stamp(out.at) {
			return written{}
		}
		id = out.row[0]
	}
	wr := written{ok: true, us: out.at.UnixMicro()}
	if t.id == idRowid {
		n, ok := id.(int64)
		wr.ok, wr.rowid = ok, n
		return wr
	}
	kind, text := typed(id)
	if kind == "n" || kind == "r" && !finite(id) {
		return written{}
	}
	wr.id = kind + text
	return wr
}

func finite(v any) bool {
	f, ok := v.(float64)
	return !ok || !math.IsInf(f, 0) && !math.IsNaN(f)
}

// mark sets the marks of a batch's results from what each op stored
// (left, aligned with res): a run of creates, or of updates, whose rowids
// and stamps both go up by one shares a range mark, though ops of the
// other kind come between them (the two kinds' stamps are apart, see
// writer.stamp); the other rows share a set mark in a rowid table, and get
// one each in any other.
func (w *writer) mark(res []sdk.WriteResult, left []written) {
	var singles []int // rows of a rowid table in no run
	for i := 0; i < len(left); i++ {
		if !left[i].ok || res[i].Mark != "" {
			continue
		}
		first, last, end := left[i], left[i], i+1
		if w.t.id == idRowid {
			for k := i + 1; k < len(left); k++ {
				if !left[k].ok || left[k].create != first.create {
					continue // a failed op, a delete or one of the other kind: not in the run
				}
				if left[k].rowid != last.rowid+1 || left[k].us != last.us+1 {
					break
				}
				last, end = left[k], k+1
			}
		}
		var m string
		switch {
		case last.rowid != first.rowid:
			m = markPrefix + "r:" + strconv.FormatInt(first.rowid, 10) + ":" + strconv.FormatInt(last.rowid, 10) +
				":" + strconv.FormatInt(first.us, 10)
		case w.t.id == idRowid:
			singles = append(singles, i)
			continue
		default:
			m = markPrefix + "i:" + strconv.FormatInt(first.us, 10) + ":" + first.id
		}
		for k := i; k < end; k++ {
			if left[k].ok && left[k].create == first.create {
				res[k].Mark = m
			}
		}
	}
	switch len(singles) {
	case 0:
	case 1:
		one := left[singles[0]]
		res[singles[0]].Mark = markPrefix + "i:" + strconv.FormatInt(one.us, 10) + ":i" + strconv.FormatInt(one.rowid, 10)
	default:
		// On the first of them only: the host keeps the marks of a side's
		// writes together, and one set repeated on each of its n results
		// would cross the wire n times (a batch of 1,250 spread updates: 19 MB).
		res[singles[0]].Mark = setMark(left, singles)
	}
}

// setMark is the set mark of rows singles of left.
func setMark(left []written, singles []int) string {
	least := left[singles[0]].us
	for _, i := range singles {
		least = min(least, left[i].us)
	}
	b := []byte(markPrefix + "s:")
	b = strconv.AppendInt(b, least, 10)
	sep := byte(':')
	for _, i := range singles {
		b = append(b, sep)
		sep = ','
		b = strconv.AppendInt(b, left[i].rowid, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, left[i].us-least, 10)
	}
	return string(b)
}

// rowRange is a range mark: rowids first..last, stamped us, us+1, ….
type rowRange struct{ first, last, us int64 }

func (r rowRange) rows() int64 { return r.last - r.first + 1 }

// rowMark is a single-row mark: the id as stored, and its stamp.
type rowMark struct {
	id any
	us int64
}

// parseSkip returns this connector's marks in skip, without duplicates;
// other marks, and ours that do not parse, are ignored: their rows are read.
func parseSkip(skip []string) (ranges []rowRange, rows []rowMark) {
	seen := make(map[string]bool, len(skip))
	for _, m := range skip {
		s, ok := strings.CutPrefix(m, markPrefix)
		if !ok || seen[s] {
			continue
		}
		seen[s] = true
		switch {
		case strings.HasPrefix(s, "r:"):
			p := strings.Split(s[2:], ":")
			if len(p) != 3 {
				continue
			}
			first, err1 := strconv.ParseInt(p[0], 10, 64)
			last, err2 := strconv.ParseInt(p[1], 10, 64)
			us, err3 := strconv.ParseInt(p[2], 10, 64)
			n := last - first // the range's stamps run from us to us+n
			if err1 != nil || err2 != nil || err3 != nil || first > last || n < 0 || us < 0 || n > maxStampMicros-us {
				continue
			}
			ranges = append(ranges, rowRange{first, last, us})
		case strings.HasPrefix(s, "s:"):
			stamp, list, ok := strings.Cut(s[2:], ":")
			least, err := strconv.ParseInt(stamp, 10, 64)
			if !ok || err != nil || least < 0 || least > maxStampMicros {
				continue
			}
			for item := range strings.SplitSeq(list, ",") {
				id, off, ok := strings.Cut(item, ".")
				rowid, err1 := strconv.ParseInt(id, 10, 64)
				d, err2 := strconv.ParseInt(off, 10, 64)
				if !ok || err1 != nil || err2 != nil || d < 0 || d > maxStampMicros-least {
					continue
				}
				rows = append(rows, rowMark{rowid, least + d})
			}
		case strings.HasPrefix(s, "i:"):
			stamp, id, ok := strings.Cut(s[2:], ":")
			us, err := strconv.ParseInt(stamp, 10, 64)
			if !ok || err != nil || us < 0 || us > maxStampMicros || id == "" {
				continue
			}
			v, err := untyped(id[:1], id[1:])
			if err != nil || v == nil || !finite(v) {
				continue
			}
			rows = append(rows, rowMark{v, us})
		}
	}
	return ranges, rows
}

// skipFilter returns the condition (to AND with the others) leaving out the
// rows the marks in skip name at their marked stamps, and its argument; ""
// when skip holds none of this connector's marks that apply to t.
//
// A range becomes "rowid BETWEEN a AND b AND updated_at IS <the stamp of
// that rowid>": a + k's stamp is us + k, computed from the rowid in SQL,
// as an integer or, for text stamps, as the second's text and the
// microseconds formatted (one term per second the range spans). Single
// rows are one JSON array parameter of [id, stamp] pairs, looked up by
// row value. IS, never =, and the NULL guards: a NULL would make NOT
// (…) NULL, and leave out a row no mark names.
func (t *table) skipFilter(skip []string) (string, []any) {
	ranges, rows := parseSkip(skip)
	if t.id != idRowid {
		ranges = nil // rowid ranges name nothing in this table
	}
	if len(ranges) == 0 && len(rows) == 0 {
		return "", nil
	}
	ua, id := t.cols[t.uaCol].q, t.idExpr
	// The longest ranges make terms; the rest are looked up row by row.
	slices.SortFunc(ranges, func(a, b rowRange) int {
		if a.rows() != b.rows() {
			return cmp.Compare(b.rows(), a.rows())
		}
		return cmp.Compare(a.first, b.first)
	})
	var terms []rangeTerm
	pairs := rows[:min(len(rows), maxSkipRows)]
	for _, r := range ranges {
		if ts := t.rangeTerms(r, ua, id); ts != nil && len(terms)+len(ts) <= maxRangeTerms {
			terms = append(terms, ts...)
		} else if int64(len(pairs))+r.rows() <= maxSkipRows {
			for k := int64(0); k < r.rows(); k++ {
				pairs = append(pairs, rowMark{r.first + k, r.us + k})
			}
		}
	}
	var conds []string
	if len(terms) > 0 {
		slices.SortFunc(terms, func(a, b rangeTerm) int { return cmp.Compare(a.first, b.first) })
		conds = append(conds, "NOT ("+rangeTree(terms, id)+")")
	}
	var args []any
	if keys := t.markKeysJSON(pairs); keys != "" {
		// One text key a row, not the pair: SQLite matches a row value
		// against a subquery row by row, a scalar through an index (900
		// marks over 900 rows: 25-35 ms against 2).
		conds = append(conds, "("+id+" IS NULL OR "+ua+" IS NULL OR "+id+" || '|' || "+ua+" NOT IN "+
			"(SELECT value FROM json_each(?)))")
		args = append(args, keys)
	}
	return strings.Join(conds, " AND "), args
}

// rangeTerm is the SQL matching the rows first..last of a range mark at
// their marked stamps.
type rangeTerm struct {
	first int64
	sql   string
}

// rangeTree is terms, sorted by their first rowid, as one condition: a
// CASE on the id that halves them at each step, so that a row meets the
// one term that can match it after log2(len(terms)) comparisons, where
// OR-ing them made it meet half of them (hundreds, after a first run of a
// million rows). Terms whose rowids overlap (no write makes them) may miss
// a row: it is read, which is correct.
func rangeTree(terms []rangeTerm, id string) string {
	if len(terms) == 1 {
		return terms[0].sql
	}
	mid := len(terms) / 2
	return "CASE WHEN " + id + " < " + strconv.FormatInt(terms[mid].first, 10) + " THEN " + rangeTree(terms[:mid], id) +
		" ELSE " + rangeTree(terms[mid:], id) + " END"
}

// rangeTerms is the SQL matching range r's rows at their marked stamps;
// nil when it needs more than maxRangeTerms terms.
func (t *table) rangeTerms(r rowRange, ua, id string) []rangeTerm {
	if t.uaInt {
		return []rangeTerm{{r.first, "(" + id + " BETWEEN " + strconv.FormatInt(r.first, 10) + " AND " + strconv.FormatInt(r.last, 10) +
			" AND " + ua + " IS " + id + plus(r.us-r.first) + ")"}}
	}
	// A text stamp is "YYYY-MM-DD HH:MM:SS." and six digits of
	// microseconds: within one second, only the digits follow the rowid.
	var out []rangeTerm
	for first := r.first; ; {
		us := r.us + (first - r.first)
		last := min(r.last, first+(999_999-us%1_000_000))
		if len(out) == maxRangeTerms {
			return nil
		}
		second := time.UnixMicro(us).UTC().Format(stampLayout)[:20]
		out = append(out, rangeTerm{first, "(" + id + " BETWEEN " + strconv.FormatInt(first, 10) + " AND " + strconv.FormatInt(last, 10) +
			" AND " + ua + " IS '" + second + "' || printf('%06d', " + id + plus(us%1_000_000-first) + "))"})
		if last == r.last {
			return out
		}
		first = last + 1
	}
}

// plus is " + n" or " - |n|", to follow an SQL expression.
func plus(n int64) string {
	if n < 0 {
		return " - " + strconv.FormatUint(uint64(-n), 10) // right for MinInt64 too
	}
	return " + " + strconv.FormatInt(n, 10)
}

// markKeysJSON is the JSON array of the pairs' keys as the filter builds
// them from a row: its id and its stamp as SQLite writes them as text,
// joined by "|" (stamps hold none, so the last one splits them). Pairs
// whose id is not an integer or a text are left out, and their rows read.
func (t *table) markKeysJSON(pairs []rowMark) string {
	b := make([]byte, 0, len(pairs)*48)
	b = append(b, '[')
	n := 0
	for _, p := range pairs {
		var key []byte
		switch v := p.id.(type) {
		case int64:
			key = strconv.AppendInt(key, v, 10)
		case string:
			key = append(key, v...)
		default:
			continue // a REAL's text form is SQLite's to choose
		}
		key = append(key, '|')
		if t.uaInt {
			key = strconv.AppendInt(key, p.us, 10)
		} else {
			key = time.UnixMicro(p.us).UTC().AppendFormat(key, stampLayout)
		}
		if n > 0 {
			b = append(b, ',')
		}
		js, _ := json.Marshal(string(key))
		b = append(b, js...)
		n++
	}
	if n == 0 {
		return ""
	}
	return string(append(b, ']'))
}
