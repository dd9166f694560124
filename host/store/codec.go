package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/datasync-io/datasync/sdk"
)

// Base is a link's last-synced values, one entry per mapping key ("left=right"),
// in the order they were set. A slice, not a map: a run holds one per link,
// and ten small entries are cheaper to build, copy and scan than a map.
type Base []BaseField

// BaseField is the base of one mapping.
type BaseField struct {
	Key string
	BasePair
}

// Get returns the base of a mapping key.
func (b Base) Get(key string) (BasePair, bool) {
	for i := range b {
		if b[i].Key == key {
			return b[i].BasePair, true
		}
	}
	return BasePair{}, false
}

// Set sets the base of a mapping key.
func (b *Base) Set(key string, p BasePair) {
	for i := range *b {
		if (*b)[i].Key == key {
			(*b)[i].BasePair = p
			return
		}
	}
	*b = append(*b, BaseField{Key: key, BasePair: p})
}

// Clone returns a copy that can be changed without changing b.
func (b Base) Clone() Base {
	if b == nil {
		return nil
	}
	return append(make(Base, 0, len(b)), b...)
}

// Equal reports whether b and o hold the same keys and values, in any order.
func (b Base) Equal(o Base) bool {
	if len(b) != len(o) {
		return false
	}
	for i := range b {
		p, ok := o.Get(b[i].Key)
		if !ok || !p.Left.Equal(b[i].Left) || !p.Right.Equal(b[i].Right) {
			return false
		}
	}
	return true
}

// UnmarshalJSON reads the JSON object form (keyed by mapping key) that bases
// were stored in before the compact form.
func (b *Base) UnmarshalJSON(data []byte) error {
	var m map[string]BasePair
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	*b = (*b)[:0]
	for k, p := range m {
		*b = append(*b, BaseField{Key: k, BasePair: p})
	}
	return nil
}

// The compact form of a base, as stored in links.base: "~1" then, per
// field, its key (see appendKey) and both values. Strings are
// length-prefixed ("5:hello"), so decoding is a scan with no escapes; the
// text stays valid UTF-8 when the values are. Rows written before it hold
// the JSON object form, which DecodeBase still reads. A version that does
// not know identity keys ("=5:email") cannot read bases written since.
const basePrefix = "~1"

// EncodeBase returns the compact form of b.
func EncodeBase(b Base) string {
	return string(appendBase(make([]byte, 0, 96*len(b)+2), b))
}

// AppendBase appends the compact form of b to dst: EncodeBase without its
// allocation, for a caller that encodes many bases through one buffer.
func AppendBase(dst []byte, b Base) []byte { return appendBase(dst, b) }

func appendBase(out []byte, b Base) []byte {
	out = append(out, basePrefix...)
	for _, f := range b {
		out = appendKey(out, f.Key)
		out = appendCompactValue(out, f.Left)
		if f.Right.Equal(f.Left) && f.Left.Kind != sdk.KindDateTime {
			out = append(out, cSame) // the common case, in a byte
			continue
		}
		out = appendCompactValue(out, f.Right)
	}
	return out
}

// DecodeBase reads EncodeBase's form, or the older JSON object form.
func DecodeBase(s string) (Base, error) {
	if !strings.HasPrefix(s, basePrefix) {
		var b Base
		if err := json.Unmarshal([]byte(s), &b); err != nil {
			return nil, err
		}
		return b, nil
	}
	d := decoder{s: s, i: len(basePrefix)}
	// Decoded on the stack first, then copied into a slice of the exact
	// size: a run decodes one base per link.
	var buf [16]BaseField
	b := Base(buf[:0])
	for d.i < len(d.s) {
		var f BaseField
		f.Key = d.key()
		f.Left = d.value()
		if d.i < len(d.s) && d.s[d.i] == cSame {
			d.i++
			f.Right = f.Left
		} else {
			f.Right = d.value()
		}
		if d.err != nil {
			return nil, fmt.Errorf("link base at byte %d: %w", d.i, d.err)
		}
		b = append(b, f)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return append(make(Base, 0, len(b)), b...), nil
}

// BaseCovers reports whether an encoded base (as in RawBase) holds every
// one of keys, reading its keys only.
func BaseCovers(encoded string, keys []string) bool {
	if !strings.HasPrefix(encoded, basePrefix) {
		b, err := DecodeBase(encoded)
		if err != nil {
			return false
		}
		for _, k := range keys {
			if _, ok := b.Get(k); !ok {
				return false
			}
		}
		return true
	}
	found := 0
	seen := make([]bool, len(keys))
	d := decoder{s: encoded, i: len(basePrefix)}
	for n := 0; d.i < len(d.s) && d.err == nil; n++ {
		k, ident := d.keyName()
		// Keys are mostly stored in the order asked: try that slot first.
		j := -1
		if n < len(keys) && keyIs(keys[n], k, ident) {
			j = n
		} else {
			for x := range keys {
				if keyIs(keys[x], k, ident) {
					j = x
					break
				}
			}
		}
		if j >= 0 && !seen[j] {
			seen[j] = true
			found++
		}
		d.skipValue()
		if d.i < len(d.s) && d.s[d.i] == cSame {
			d.i++
		} else {
			d.skipValue()
		}
	}
	return d.err == nil && found == len(keys)
}

// BaseKeys is a digest of a set of mapping keys, whatever their order: the
// links table keeps the digest of each base's keys (base_keys), so that a
// run can tell which bases hold exactly its mappings without reading them.
func BaseKeys(keys []string) string {
	var sum uint64
	for _, k := range keys {
		h := uint64(14695981039346656037) // FNV-1a
		for i := 0; i < len(k); i++ {
			h = (h ^ uint64(k[i])) * 1099511628211
		}
		sum += h
	}
	return strconv.Itoa(len(keys)) + ":" + strconv.FormatUint(sum, 36)
}

// baseKeysOf is BaseKeys of an encoded base's keys ("" when it does not decode).
func baseKeysOf(encoded string) string {
	if !strings.HasPrefix(encoded, basePrefix) {
		b, err := DecodeBase(encoded)
		if err != nil {
			return ""
		}
		return b.keys()
	}
	var keys []string
	d := decoder{s: encoded, i: len(basePrefix)}
	for d.i < len(d.s) && d.err == nil {
		keys = append(keys, d.key())
		d.skipValue()
		if d.i < len(d.s) && d.s[d.i] == cSame {
			d.i++
		} else {
			d.skipValue()
		}
	}
	if d.err != nil {
		return ""
	}
	return BaseKeys(keys)
}

// keys is BaseKeys of b's keys.
func (b Base) keys() string {
	keys := make([]string, len(b))
	for i, f := range b {
		keys[i] = f.Key
	}
	return BaseKeys(keys)
}

// skipValue moves past one value without building it.
func (d *decoder) skipValue() {
	if d.err != nil || d.i >= len(d.s) {
		d.fail()
		return
	}
	c := d.s[d.i]
	d.i++
	switch c {
	case cNull, cTrue, cFalse:
	case cString, cDecimal, cDate:
		d.lenString()
	case cInteger:
		d.int(';')
	case cDateTime:
		d.int(';')
		d.int(';')
	case cList:
		n := d.int(';')
		for k := int64(0); k < n && d.err == nil; k++ {
			d.lenString()
		}
	default:
		d.fail()
	}
}

// cIdentity starts a mapping key whose two fields have one name
// ("email=email", most of them): the name follows, once.
const cIdentity = '='

// appendKey appends a base's mapping key: length-prefixed, or, for an
// identity key, cIdentity and its name: ~80 of the ~510 bytes of the base
// of a contact of ten fields.
func appendKey(b []byte, key string) []byte {
	if h := len(key) / 2; len(key)%2 == 1 && key[h] == '=' && key[:h] == key[h+1:] {
		return appendLenString(append(b, cIdentity), key[:h])
	}
	return appendLenString(b, key)
}

// key reads a mapping key written by appendKey.
func (d *decoder) key() string {
	name, ident := d.keyName()
	if ident {
		return name + "=" + name
	}
	return name
}

// keyName reads a mapping key as written: the key, or (ident) the name
// an identity key holds twice.
func (d *decoder) keyName() (name string, ident bool) {
	if d.err == nil && d.i < len(d.s) && d.s[d.i] == cIdentity {
		d.i++
		return d.lenString(), true
	}
	return d.lenString(), false
}

// keyIs reports whether key is the one keyName read, without building it.
func keyIs(key, name string, ident bool) bool {
	if !ident {
		return key == name
	}
	h := len(name)
	return len(key) == 2*h+1 && key[h] == '=' && key[:h] == name && key[h+1:] == name
}

func appendLenString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// Value kinds in the compact form, one byte each.
const (
	cNull     = 'n'
	cString   = 's'
	cInteger  = 'i'
	cDecimal  = 'd'
	cTrue     = 'T'
	cFalse    = 'F'
	cDate     = 'D'
	cDateTime = 't' // unix seconds, then nanoseconds
	cList     = 'l' // item count, then each item
	cSame     = '=' // a base's right value: the same as its left
)

func appendCompactValue(b []byte, v sdk.Value) []byte {
	switch v.Kind {
	case sdk.KindString:
		return appendLenString(append(b, cString), v.Str)
	case sdk.KindInteger:
		b = strconv.AppendInt(append(b, cInteger), v.Int, 10)
		return append(b, ';')
	case sdk.KindDecimal:
		return appendLenString(append(b, cDecimal), v.Str)
	case sdk.KindBoolean:
		if v.Bool {
			return append(b, cTrue)
		}
		return append(b, cFalse)
	case sdk.KindDate:
		return appendLenString(append(b, cDate), v.Str)
	case sdk.KindDateTime:
		b = strconv.AppendInt(append(b, cDateTime), v.Time.Unix(), 10)
		b = strconv.AppendInt(append(b, ';'), int64(v.Time.Nanosecond()), 10)
		return append(b, ';')
	case sdk.KindStringList:
		b = strconv.AppendInt(append(b, cList), int64(len(v.List)), 10)
		b = append(b, ';')
		for _, s := range v.List {
			b = appendLenString(b, s)
		}
		return b
	}
	return append(b, cNull)
}

var errCorrupt = errors.New("corrupt compact value")

// decoder scans the compact form; the first error sticks and makes every
// later read return a zero value.
type decoder struct {
	s   string
	i   int
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.i = len(d.s)
}

// int reads a decimal integer ended by end.
func (d *decoder) int(end byte) int64 {
	j := strings.IndexByte(d.s[d.i:], end)
	if j <= 0 {
		d.fail()
		return 0
	}
	n, err := strconv.ParseInt(d.s[d.i:d.i+j], 10, 64)
	if err != nil {
		d.fail()
		return 0
	}
	d.i += j + 1
	return n
}

func (d *decoder) lenString() string {
	if d.err != nil {
		return ""
	}
	n := d.int(':')
	if n < 0 || n > int64(len(d.s)-d.i) {
		d.fail()
		return ""
	}
	s := d.s[d.i : d.i+int(n)]
	d.i += int(n)
	return s
}

func (d *decoder) value() sdk.Value {
	if d.err != nil || d.i >= len(d.s) {
		d.fail()
		return sdk.Null
	}
	c := d.s[d.i]
	d.i++
	switch c {
	case cNull:
		return sdk.Null
	case cString:
		return sdk.Value{Kind: sdk.KindString, Str: d.lenString()}
	case cInteger:
		return sdk.Value{Kind: sdk.KindInteger, Int: d.int(';')}
	case cDecimal:
		return sdk.Value{Kind: sdk.KindDecimal, Str: d.lenString()}
	case cTrue, cFalse:
		return sdk.Value{Kind: sdk.KindBoolean, Bool: c == cTrue}
	case cDate:
		return sdk.Value{Kind: sdk.KindDate, Str: d.lenString()}
	case cDateTime:
		sec := d.int(';')
		nsec := d.int(';')
		if nsec < 0 || nsec >= 1e9 {
			d.fail()
			return sdk.Null
		}
		return sdk.Value{Kind: sdk.KindDateTime, Time: time.Unix(sec, nsec).UTC()}
	case cList:
		n := d.int(';')
		if n < 0 || n > int64(len(d.s)-d.i) {
			d.fail()
			return sdk.Null
		}
		l := make([]string, 0, n)
		for range n {
			l = append(l, d.lenString())
		}
		return sdk.Value{Kind: sdk.KindStringList, List: l}
	}
	d.fail()
	return sdk.Null
}

// appendJSONValue appends the JSON form of v (jsonValue's, without
// reflection: it is written for every value a run stores).
func appendJSONValue(b []byte, v sdk.Value) []byte {
	if v.Kind == sdk.KindNull {
		return append(b, "{}"...)
	}
	b = append(b, `{"k":`...)
	b = appendJSONString(b, v.Kind.String())
	if v.Str != "" {
		if utf8.ValidString(v.Str) {
			b = append(b, `,"s":`...)
			b = appendJSONString(b, v.Str)
		} else {
			// JSON text holds only UTF-8: other bytes (Latin-1 text in a
			// SQLite file, say) are kept as they are, in base64.
			b = append(b, `,"sb":`...)
			b = appendBase64(b, v.Str)
		}
	}
	if v.Int != 0 {
		b = append(b, `,"i":`...)
		b = strconv.AppendInt(b, v.Int, 10)
	}
	if v.Bool {
		b = append(b, `,"b":true`...)
	}
	if v.Kind == sdk.KindDateTime {
		b = append(b, `,"t":`...)
		b = appendJSONString(b, v.Time.UTC().Format(time.RFC3339Nano))
	}
	if len(v.List) > 0 || v.Kind == sdk.KindStringList {
		valid := true
		for _, s := range v.List {
			valid = valid && utf8.ValidString(s)
		}
		if valid {
			b = append(b, `,"l":[`...)
		} else {
			b = append(b, `,"lb":[`...)
		}
		for i, s := range v.List {
			if i > 0 {
				b = append(b, ',')
			}
			if valid {
				b = appendJSONString(b, s)
			} else {
				b = appendBase64(b, s)
			}
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendBase64 appends s's bytes as a JSON string in base64, as
// encoding/json writes a []byte.
func appendBase64(b []byte, s string) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, unsafe.Slice(unsafe.StringData(s), len(s)))
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, as encoding/json would
// decode it back (invalid UTF-8 becomes U+FFFD, as encoding/json writes it).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

type journalGroup struct {
	batch, side string
	entries     []JournalEntry
}

// groupJournal groups the entries that carry a Batch by (batch, side), in
// order of first appearance.
func groupJournal(js []JournalEntry) []journalGroup {
	if len(js) > 0 && js[0].Batch != "" && !slices.ContainsFunc(js[1:], func(j JournalEntry) bool {
		return j.Batch != js[0].Batch || j.Side != js[0].Side
	}) {
		return []journalGroup{{batch: js[0].Batch, side: js[0].Side, entries: js}} // the common case, without copying
	}
	var out []journalGroup
	for _, j := range js {
		if j.Batch == "" {
			continue
		}
		i := 0
		for i < len(out) && (out[i].batch != j.Batch || out[i].side != j.Side) {
			i++
		}
		if i == len(out) {
			out = append(out, journalGroup{batch: j.Batch, side: j.Side})
		}
		out[i].entries = append(out[i].entries, j)
	}
	return out
}

// A journal_batches row: "~1" then id, source id and payload of each entry.
func encodeJournal(js []JournalEntry) string {
	n := len(basePrefix)
	for _, j := range js {
		n += len(j.ID) + len(j.SourceID) + len(j.Payload) + 24
	}
	b := make([]byte, 0, n)
	b = append(b, basePrefix...)
	for _, j := range js {
		b = appendLenString(b, j.ID)
		b = appendLenString(b, j.SourceID)
		b = strconv.AppendInt(b, int64(len(j.Payload)), 10)
		b = append(append(b, ':'), j.Payload...)
	}
	return ownString(b)
}

func decodeJournal(s string, row JournalEntry) ([]JournalEntry, error) {
	if !strings.HasPrefix(s, basePrefix) {
		return nil, errCorrupt
	}
	d := decoder{s: s, i: len(basePrefix)}
	var out []JournalEntry
	for d.i < len(d.s) {
		j := row
		j.ID = d.lenString()
		j.SourceID = d.lenString()
		j.Payload = []byte(d.lenString())
		if d.err != nil {
			return nil, d.err
		}
		out = append(out, j)
	}
	return out, nil
}

// groupHistory groups entries that share run, side, op, direction and time,
// in order of first appearance: each group is one history_batches row.
func groupHistory(hs []HistoryEntry) [][]HistoryEntry {
	if len(hs) > 0 && !slices.ContainsFunc(hs[1:], func(h HistoryEntry) bool { return !sameHistoryRow(h, hs[0]) }) {
		return [][]HistoryEntry{hs} // the common case, without copying
	}
	var out [][]HistoryEntry
	for _, h := range hs {
		i := 0
		for i < len(out) {
			g := out[i][0]
			if sameHistoryRow(g, h) {
				break
			}
			i++
		}
		if i == len(out) {
			out = append(out, nil)
		}
		out[i] = append(out[i], h)
	}
	return out
}

// sameHistoryRow reports whether two entries go in one history_batches row.
func sameHistoryRow(g, h HistoryEntry) bool {
	return g.RunID == h.RunID && g.Side == h.Side && g.Op == h.Op && g.Direction == h.Direction && g.At.Equal(h.At)
}

// A history_batches row: "~1" then, per entry, its record id, the number of
// changes and each change (field, old value, new value).
func encodeHistory(hs []HistoryEntry) string {
	n := len(basePrefix)
	for _, h := range hs {
		n += len(h.RecordID) + 8
		if h.RawChanges != "" {
			n += len(h.RawChanges)
		} else {
			n += 256
		}
	}
	b := make([]byte, 0, n)
	b = append(b, basePrefix...)
	for _, h := range hs {
		b = appendLenString(b, h.RecordID)
		if h.RawChanges != "" {
			b = append(b, h.RawChanges...)
			continue
		}
		b = AppendChangeCount(b, len(h.Changes))
		for _, c := range h.Changes {
			b = AppendChange(b, c.Field, c.Old.Value, c.New.Value)
		}
	}
	return ownString(b)
}

// ownString is b as a string, without a copy: the encoders hand over
// their buffers and never touch them again. A first fill's history and
// journal batches were copied whole (~1 KB a record) just to be
// strings.
func ownString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// AppendChangeCount and AppendChange build HistoryEntry.RawChanges: the
// number of changes, then each change.
func AppendChangeCount(dst []byte, n int) []byte {
	return append(strconv.AppendInt(dst, int64(n), 10), ';')
}

// AppendChange appends one change (see AppendChangeCount).
func AppendChange(dst []byte, field string, old, new sdk.Value) []byte {
	dst = appendLenString(dst, field)
	dst = appendCompactValue(dst, old)
	return appendCompactValue(dst, new)
}

// decodeHistory returns a row's entries, each a copy of row with its own
// record id, changes and an id made of the row's and its position.
func decodeHistory(s string, row HistoryEntry) ([]HistoryEntry, error) {
	if !strings.HasPrefix(s, basePrefix) {
		return nil, errCorrupt
	}
	d := decoder{s: s, i: len(basePrefix)}
	var out []HistoryEntry
	for d.i < len(d.s) {
		h := row
		h.ID = fmt.Sprintf("%s.%06d", row.ID, len(out))
		h.RecordID = d.lenString()
		n := d.int(';')
		if n < 0 || n > int64(len(d.s)) {
			d.fail()
		}
		for k := int64(0); k < n && d.err == nil; k++ {
			var c FieldChange
			c.Field = d.lenString()
			c.Old.Value = d.value()
			c.New.Value = d.value()
			h.Changes = append(h.Changes, c)
		}
		if d.err != nil {
			return nil, d.err
		}
		out = append(out, h)
	}
	return out, nil
}

// JournalPayload is what a journaled create carries so that, after a crash,
// its record can be found (by correlation id or key) and linked with the
// base it would have got.
type JournalPayload struct {
	SourceVersion string
	Keys          []JournalKey // match key values, as the target's fields
	// Base: what older versions journaled, the base the link would have if
	// the target stored the values as sent. Now nil: the engine works it
	// out again from the source record when it settles the create, if its
	// mappings are still those of Mappings, its digest of them.
	Base     Base
	Mappings string
}

// JournalKey is one match key value of a journaled create.
type JournalKey struct {
	Field string
	Value sdk.Value
}

// Encode returns the payload's compact form; the base (or '#' and the
// mappings' digest) comes last, as the rest of the payload.
func (p JournalPayload) Encode() []byte {
	b := make([]byte, 0, 128+len(p.Mappings)+96*len(p.Base))
	b = append(b, basePrefix...)
	b = appendLenString(b, p.SourceVersion)
	b = strconv.AppendInt(b, int64(len(p.Keys)), 10)
	b = append(b, ';')
	for _, k := range p.Keys {
		b = appendLenString(b, k.Field)
		b = appendCompactValue(b, k.Value)
	}
	if p.Base == nil && p.Mappings != "" {
		return appendLenString(append(b, journalMappings), p.Mappings)
	}
	return appendBase(b, p.Base)
}

// journalMappings starts a payload's mappings digest, where a base would
// start with basePrefix.
const journalMappings = '#'

// DecodeJournalPayload reads Encode's form, or the JSON an older version
// journaled.
func DecodeJournalPayload(data []byte) (JournalPayload, error) {
	s := string(data)
	if !strings.HasPrefix(s, basePrefix) {
		var old struct {
			SourceVersion string `json:"source_version"`
			Keys          []struct {
				Field string `json:"field"`
				Value Value  `json:"value"`
			} `json:"keys"`
			Base Base `json:"base"`
		}
		if err := json.Unmarshal(data, &old); err != nil {
			return JournalPayload{}, err
		}
		p := JournalPayload{SourceVersion: old.SourceVersion, Base: old.Base}
		for _, k := range old.Keys {
			p.Keys = append(p.Keys, JournalKey{Field: k.Field, Value: k.Value.Value})
		}
		return p, nil
	}
	d := decoder{s: s, i: len(basePrefix)}
	p := JournalPayload{SourceVersion: d.lenString()}
	n := d.int(';')
	if n < 0 || n > int64(len(s)) {
		d.fail()
	}
	for k := int64(0); k < n && d.err == nil; k++ {
		p.Keys = append(p.Keys, JournalKey{Field: d.lenString(), Value: d.value()})
	}
	if d.err != nil {
		return JournalPayload{}, d.err
	}
	if d.i < len(s) && s[d.i] == journalMappings {
		d.i++
		p.Mappings = d.lenString()
		if d.err != nil || d.i != len(s) {
			return JournalPayload{}, errCorrupt
		}
		return p, nil
	}
	if !strings.HasPrefix(s[d.i:], basePrefix) {
		return JournalPayload{}, errCorrupt
	}
	var err error
	p.Base, err = DecodeBase(s[d.i:])
	return p, err
}
