package main

import (
	"bufio"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-vcard"
)

// The card codec keeps every property value exactly as it travels (escaped),
// unlike go-vcard's Decoder/Encoder, which unescape "\," and "\n" but not
// "\;" and so corrupt structured values on a round trip. Only the properties
// the connector maps are unescaped (on read) and escaped (on write); all
// others go back to the server byte for byte.

// decodeCard parses one vCard. Property names and parameter names are
// upper-cased; Field.Value holds the raw (still escaped) value.
func decodeCard(text string) (vcard.Card, error) {
	card := vcard.Card{}
	begun, ended := false, false
	for _, line := range unfold(text) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, f, err := parseLine(line)
		if err != nil {
			// A malformed line is kept out rather than failing the whole card,
			// as go-vcard does.
			continue
		}
		switch {
		case !begun:
			if name != "BEGIN" || !strings.EqualFold(f.Value, "VCARD") {
				return nil, errors.New("vcard: no BEGIN:VCARD")
			}
			begun = true
		case name == "END":
			if !strings.EqualFold(f.Value, "VCARD") {
				return nil, fmt.Errorf("vcard: END:%s inside a VCARD", f.Value)
			}
			ended = true
		case name == "BEGIN":
			return nil, errors.New("vcard: nested BEGIN")
		default:
			card.Add(name, f)
		}
		if ended {
			break
		}
	}
	if !begun {
		return nil, errors.New("vcard: empty card")
	}
	if !ended {
		return nil, errors.New("vcard: no END:VCARD")
	}
	return card, nil
}

// unfold splits text into logical lines: a line starting with a space or a
// tab continues the previous one (RFC 6350 section 3.2).
func unfold(text string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), len(text)+1)
	for sc.Scan() {
		l := strings.TrimSuffix(sc.Text(), "\r")
		if len(out) > 0 && l != "" && (l[0] == ' ' || l[0] == '\t') {
			out[len(out)-1] += l[1:]
			continue
		}
		out = append(out, l)
	}
	return out
}

// parseLine splits "group.NAME;P=v1,v2;Q="x:y":value".
func parseLine(l string) (string, *vcard.Field, error) {
	f := &vcard.Field{}
	end := strings.IndexAny(l, ";:")
	if end < 0 {
		return "", nil, errors.New("vcard: line without ':'")
	}
	name := l[:end]
	if dot := strings.LastIndexByte(name, '.'); dot >= 0 {
		f.Group, name = name[:dot], name[dot+1:]
	}
	if name == "" {
		return "", nil, errors.New("vcard: property without a name")
	}
	name = strings.ToUpper(name)
	rest := l[end:]
	for rest != "" && rest[0] == ';' {
		rest = rest[1:]
		eq := strings.IndexAny(rest, "=;:")
		if eq < 0 {
			return "", nil, errors.New("vcard: unterminated parameter")
		}
		if f.Params == nil {
			f.Params = vcard.Params{}
		}
		if rest[eq] != '=' {
			// vCard 2.1 bare parameter ("TEL;HOME:"): a TYPE.
			f.Params.Add(vcard.ParamType, rest[:eq])
			rest = rest[eq:]
			continue
		}
		pname := strings.ToUpper(rest[:eq])
		rest = rest[eq+1:]
		for {
			var v string
			if rest != "" && rest[0] == '"' {
				q := strings.IndexByte(rest[1:], '"')
				if q < 0 {
					return "", nil, errors.New("vcard: unterminated quoted parameter")
				}
				v, rest = rest[1:q+1], rest[q+2:]
			} else {
				e := strings.IndexAny(rest, ",;:")
				if e < 0 {
					return "", nil, errors.New("vcard: unterminated parameter value")
				}
				v, rest = rest[:e], rest[e:]
			}
			f.Params.Add(pname, v)
			if rest == "" || rest[0] != ',' {
				break
			}
			rest = rest[1:]
		}
	}
	if rest == "" || rest[0] != ':' {
		return "", nil, errors.New("vcard: line without ':'")
	}
	f.Value = rest[1:]
	return name, f, nil
}

// encodeCard writes card as vCard text: BEGIN, VERSION, the properties in
// name order, END; lines folded at 75 octets, CRLF line ends.
func encodeCard(card vcard.Card) string {
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\r\n")
	version := "3.0"
	if v := card.Get(vcard.FieldVersion); v != nil && v.Value != "" {
		version = v.Value
	}
	writeFolded(&b, "VERSION:"+version)
	names := make([]string, 0, len(card))
	for name := range card {
		if name != vcard.FieldVersion && name != "BEGIN" && name != "END" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		for _, f := range card[name] {
			writeFolded(&b, formatLine(name, f))
		}
	}
	b.WriteString("END:VCARD\r\n")
	return b.String()
}

func formatLine(name string, f *vcard.Field) string {
	var b strings.Builder
	if f.Group != "" {
		b.WriteString(f.Group + ".")
	}
	b.WriteString(name)
	pnames := make([]string, 0, len(f.Params))
	for p := range f.Params {
		pnames = append(pnames, p)
	}
	sort.Strings(pnames)
	for _, p := range pnames {
		if len(f.Params[p]) == 0 {
			continue
		}
		b.WriteString(";" + p + "=")
		for i, v := range f.Params[p] {
			if i > 0 {
				b.WriteByte(',')
			}
			// A double quote cannot appear in a parameter value (RFC 6350
			// 3.3 without RFC 6868's ^' escapes): it becomes a single one.
			v = strings.ReplaceAll(v, `"`, "'")
			if strings.ContainsAny(v, ",;:") {
				b.WriteString(`"` + v + `"`)
			} else {
				b.WriteString(v)
			}
		}
	}
	b.WriteByte(':')
	b.WriteString(f.Value)
	return b.String()
}

// writeFolded writes one logical line, folded so no physical line exceeds 75
// octets, never splitting a UTF-8 sequence.
func writeFolded(b *strings.Builder, line string) {
	limit := 75
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		b.WriteString(line[:cut] + "\r\n ")
		line = line[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(line + "\r\n")
}

// escapeText escapes a text value (RFC 6350 section 3.4): backslash, comma,
// semicolon and newline. Line breaks of any style become "\n".
func escapeText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return textEscaper.Replace(s)
}

var textEscaper = strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\n", `\n`)

// unescapeText undoes escapeText; an unknown escape keeps the escaped
// character, a trailing lone backslash is kept.
func unescapeText(s string) string {
	if !strings.ContainsRune(s, '\\') {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i == len(s)-1 {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// splitEscaped splits a raw value at sep where sep is not escaped, and
// unescapes the parts.
func splitEscaped(s string, sep byte) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			parts = append(parts, unescapeText(s[start:i]))
			start = i + 1
		}
	}
	return append(parts, unescapeText(s[start:]))
}

// joinEscaped escapes parts and joins them with sep.
func joinEscaped(parts []string, sep string) string {
	esc := make([]string, len(parts))
	for i, p := range parts {
		esc[i] = escapeText(p)
	}
	return strings.Join(esc, sep)
}
