package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidFilter is wrapped by every ParseFilter error.
var ErrInvalidFilter = errors.New("store: invalid filter")

// maxFilterDepth bounds nesting the same way the LDAP wire decoder does, so
// that a filter string cannot recurse the parser or the evaluator deeply.
const maxFilterDepth = 64

// ParseFilter parses the string form of a search filter (RFC 4515):
//
//	(&(objectClass=person)(|(uid=jo*)(cn=*smith))(!(mail=*)))
//	(cn~=jon) (age>=21) (cn:dn:2.5.13.2:=Jo) (:caseExactMatch:=Jo)
//
// Assertion values use \XX escapes (RFC 4515 §3); a literal '*', '(', ')',
// '\' or NUL must be escaped. The outer parentheses are required, as is the
// RFC 4512 attribute description syntax (letters, digits, '-', '.', ';' for
// options, and '_' which real schemas use). The empty (&) and (|) are
// accepted as the absolute true and false filters of RFC 4526.
func ParseFilter(s string) (Filter, error) {
	p := filterParser{s: s}
	f, err := p.filter(1)
	if err != nil {
		return Filter{}, err
	}
	if p.pos != len(s) {
		return Filter{}, p.errorf("unexpected %q after the filter", s[p.pos:])
	}
	return f, nil
}

type filterParser struct {
	s   string
	pos int
}

func (p *filterParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidFilter, fmt.Sprintf(format, args...), p.pos)
}

// peek returns the next byte, or 0 at the end (NUL is never valid raw).
func (p *filterParser) peek() byte {
	if p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

// filter parses filter = "(" filtercomp ")".
func (p *filterParser) filter(depth int) (Filter, error) {
	if depth > maxFilterDepth {
		return Filter{}, p.errorf("filter nested deeper than %d", maxFilterDepth)
	}
	if p.peek() != '(' {
		return Filter{}, p.errorf("expected '('")
	}
	p.pos++
	var f Filter
	var err error
	switch p.peek() {
	case '&', '|':
		f.Kind = FilterAnd
		if p.peek() == '|' {
			f.Kind = FilterOr
		}
		p.pos++
		for p.peek() == '(' {
			c, err := p.filter(depth + 1)
			if err != nil {
				return Filter{}, err
			}
			f.Children = append(f.Children, c)
		}
	case '!':
		p.pos++
		c, err := p.filter(depth + 1)
		if err != nil {
			return Filter{}, err
		}
		f = Filter{Kind: FilterNot, Children: []Filter{c}}
	default:
		if f, err = p.item(); err != nil {
			return Filter{}, err
		}
	}
	if p.peek() != ')' {
		if p.pos >= len(p.s) {
			return Filter{}, p.errorf("missing ')'")
		}
		return Filter{}, p.errorf("unexpected %q", p.s[p.pos])
	}
	p.pos++
	return f, nil
}

func isAttrChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == ';' || c == '_'
}

// word reads a run of attribute description characters.
func (p *filterParser) word() string {
	start := p.pos
	for p.pos < len(p.s) && isAttrChar(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

// item parses simple, present, substring and extensible items.
func (p *filterParser) item() (Filter, error) {
	attr := p.word()
	f := Filter{Attr: attr}
	noStar := true // ~=, >= and <= take no substrings
	switch c := p.peek(); c {
	case ':':
		return p.extensible(attr)
	case '=':
		p.pos++
		noStar = false
	case '~', '>', '<':
		if p.pos+1 >= len(p.s) || p.s[p.pos+1] != '=' {
			return Filter{}, p.errorf("expected '=' after %q", c)
		}
		p.pos += 2
		switch c {
		case '~':
			f.Kind = FilterApprox
		case '>':
			f.Kind = FilterGreaterOrEqual
		default:
			f.Kind = FilterLessOrEqual
		}
	case 0:
		return Filter{}, p.errorf("unexpected end of filter")
	default:
		return Filter{}, p.errorf("invalid character %q in attribute description", c)
	}
	if attr == "" {
		return Filter{}, p.errorf("missing attribute description")
	}
	v, err := p.value()
	if err != nil {
		return Filter{}, err
	}
	if noStar {
		if p.peek() == '*' {
			return Filter{}, p.errorf("unescaped '*' in assertion value")
		}
		f.Value = v
		return f, nil
	}
	if p.peek() != '*' {
		f.Kind, f.Value = FilterEquality, v
		return f, nil
	}
	// substring = attr "=" [initial] any [final]; present is "attr=*".
	// Empty middle parts (a**b) match anything and are dropped.
	parts := []string{v}
	for p.peek() == '*' {
		p.pos++
		v, err := p.value()
		if err != nil {
			return Filter{}, err
		}
		parts = append(parts, v)
	}
	if len(parts) == 2 && parts[0] == "" && parts[1] == "" {
		f.Kind = FilterPresent
		return f, nil
	}
	f.Kind = FilterSubstrings
	f.Initial, f.Final = parts[0], parts[len(parts)-1]
	for _, a := range parts[1 : len(parts)-1] {
		if a != "" {
			f.Any = append(f.Any, a)
		}
	}
	if f.Initial == "" && f.Final == "" && len(f.Any) == 0 {
		return Filter{}, p.errorf("substring filter without a value")
	}
	return f, nil
}

// extensible parses the rest of attr [":dn"] [":" rule] ":=" value, or
// [":dn"] ":" rule ":=" value when attr is empty (RFC 4515 §3). "dn" is
// case-insensitive, as ABNF strings are.
func (p *filterParser) extensible(attr string) (Filter, error) {
	f := Filter{Kind: FilterExtensible, Attr: attr}
	if r := p.s[p.pos:]; len(r) > 3 && strings.EqualFold(r[:3], ":dn") && r[3] == ':' {
		f.DNAttributes = true
		p.pos += 3
	}
	if !strings.HasPrefix(p.s[p.pos:], ":=") {
		p.pos++ // the ':' before the rule
		if f.MatchingRule = p.word(); f.MatchingRule == "" {
			return Filter{}, p.errorf("missing matching rule")
		}
		if !strings.HasPrefix(p.s[p.pos:], ":=") {
			return Filter{}, p.errorf("expected ':=' in extensible filter")
		}
	}
	p.pos += 2
	if f.Attr == "" && f.MatchingRule == "" {
		return Filter{}, p.errorf("extensible filter needs an attribute or a matching rule")
	}
	v, err := p.value()
	if err != nil {
		return Filter{}, err
	}
	if p.peek() == '*' {
		return Filter{}, p.errorf("unescaped '*' in assertion value")
	}
	f.Value = v
	return f, nil
}

// value reads an assertion value up to the next unescaped '*' or ')',
// decoding \XX escapes. Without escapes it is a substring of the input.
func (p *filterParser) value() (string, error) {
	start, escaped := p.pos, false
scan:
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ')', '*':
			break scan
		case '(', 0:
			return "", p.errorf("unescaped %q in assertion value", p.s[p.pos])
		case '\\':
			if p.pos+2 >= len(p.s) || unhex(p.s[p.pos+1]) < 0 || unhex(p.s[p.pos+2]) < 0 {
				return "", p.errorf("invalid escape in assertion value")
			}
			p.pos += 3
			escaped = true
			continue
		}
		p.pos++
	}
	raw := p.s[start:p.pos]
	if !escaped {
		return raw, nil
	}
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			b = append(b, byte(unhex(raw[i+1])<<4|unhex(raw[i+2])))
			i += 2
			continue
		}
		b = append(b, raw[i])
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// String returns f in canonical RFC 4515 form, which ParseFilter reads back
// as f. Values escape '*', '(', ')', '\', NUL, other control characters,
// invalid UTF-8 and non-printable runes as \xx; printable UTF-8 stays as is
// for readable logs. Attribute descriptions and rules are written as they
// are: a filter decoded from the wire with an invalid one does not parse
// back.
func (f Filter) String() string {
	var b strings.Builder
	f.writeTo(&b)
	return b.String()
}

func (f *Filter) writeTo(b *strings.Builder) {
	b.WriteByte('(')
	switch f.Kind {
	case FilterAnd, FilterOr, FilterNot:
		b.WriteByte("&|!"[f.Kind])
		for i := range f.Children {
			f.Children[i].writeTo(b)
		}
	case FilterEquality, FilterApprox, FilterGreaterOrEqual, FilterLessOrEqual:
		b.WriteString(f.Attr)
		switch f.Kind {
		case FilterApprox:
			b.WriteByte('~')
		case FilterGreaterOrEqual:
			b.WriteByte('>')
		case FilterLessOrEqual:
			b.WriteByte('<')
		}
		b.WriteByte('=')
		writeFilterValue(b, f.Value)
	case FilterPresent:
		b.WriteString(f.Attr)
		b.WriteString("=*")
	case FilterSubstrings:
		b.WriteString(f.Attr)
		b.WriteByte('=')
		writeFilterValue(b, f.Initial)
		b.WriteByte('*')
		for _, a := range f.Any {
			writeFilterValue(b, a)
			b.WriteByte('*')
		}
		writeFilterValue(b, f.Final)
	case FilterExtensible:
		b.WriteString(f.Attr)
		if f.DNAttributes {
			b.WriteString(":dn")
		}
		if f.MatchingRule != "" {
			b.WriteByte(':')
			b.WriteString(f.MatchingRule)
		}
		b.WriteString(":=")
		writeFilterValue(b, f.Value)
	}
	b.WriteByte(')')
}

func writeFilterValue(b *strings.Builder, v string) {
	const hex = "0123456789abcdef"
	esc := func(c byte) {
		b.WriteByte('\\')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '*' || c == '(' || c == ')' || c == '\\' {
				esc(c)
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) {
			for j := range n {
				esc(v[i+j])
			}
		} else {
			b.WriteString(v[i : i+n])
		}
		i += n
	}
}
