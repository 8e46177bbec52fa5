package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// ErrInvalidDN is returned for a string that is not an RFC 4514 DN.
var ErrInvalidDN = errors.New("store: invalid DN syntax")

// AVA is one attributeType=value pair of an RDN. Value is the unescaped
// value; Type is as written.
type AVA struct {
	Type  string
	Value string
}

// RDN is a relative distinguished name: usually one AVA, several for a
// multi-valued RDN (cn=a+sn=b).
type RDN []AVA

// DN is a distinguished name, leftmost (most specific) RDN first. The zero
// DN is the root (the RootDSE's empty name).
type DN []RDN

// ParseDN parses an RFC 4514 string. Leading and trailing spaces around
// types and values are insignificant; escapes (\, \2C) and #hex values are
// decoded.
func ParseDN(s string) (DN, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p := dnParser{s: s}
	var dn DN
	for {
		rdn, err := p.rdn()
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrInvalidDN, s, err)
		}
		dn = append(dn, rdn)
		if p.i >= len(p.s) {
			return dn, nil
		}
		// rdn() stops only at a separator or the end.
		p.i++
	}
}

type dnParser struct {
	s string
	i int
}

func (p *dnParser) skipSpace() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *dnParser) rdn() (RDN, error) {
	var rdn RDN
	for {
		ava, err := p.ava()
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, ava)
		if p.i < len(p.s) && p.s[p.i] == '+' {
			p.i++
			continue
		}
		return rdn, nil
	}
}

func (p *dnParser) ava() (AVA, error) {
	p.skipSpace()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '=' {
		c := p.s[p.i]
		// No ';': attribute options have no place in a DN (RFC 4514 §3),
		// and LookupAttr would silently drop them from the Norm.
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			if c == ' ' {
				break
			}
			return AVA{}, fmt.Errorf("unexpected %q in attribute type", c)
		}
		p.i++
	}
	typ := p.s[start:p.i]
	p.skipSpace()
	if typ == "" {
		return AVA{}, errors.New("empty attribute type")
	}
	if p.i >= len(p.s) || p.s[p.i] != '=' {
		return AVA{}, fmt.Errorf("missing '=' after %q", typ)
	}
	p.i++
	p.skipSpace()
	val, err := p.value()
	if err != nil {
		return AVA{}, err
	}
	return AVA{Type: typ, Value: val}, nil
}

func (p *dnParser) value() (string, error) {
	if p.i < len(p.s) && p.s[p.i] == '#' {
		// RFC 4514 §2.4: hexstring of the BER encoding. We keep the
		// decoded octets of a primitive string value when it is one,
		// otherwise the raw BER.
		p.i++
		start := p.i
		for p.i < len(p.s) && isHex(p.s[p.i]) {
			p.i++
		}
		raw, err := hex.DecodeString(p.s[start:p.i])
		if err != nil || len(raw) == 0 {
			return "", errors.New("bad #hex value")
		}
		p.skipSpace()
		if p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ';' && p.s[p.i] != '+' {
			return "", errors.New("garbage after #hex value")
		}
		if p.i < len(p.s) && p.s[p.i] == ';' {
			return "", errors.New("';' separator")
		}
		if len(raw) >= 2 && int(raw[1]) == len(raw)-2 && raw[1] < 0x80 {
			raw = raw[2:]
		}
		return checkUTF8(string(raw))
	}
	var b strings.Builder
	trailing := 0 // unescaped trailing spaces to drop
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case ',', '+':
			out := b.String()
			return checkUTF8(out[:len(out)-trailing])
		case ';':
			return "", errors.New("';' is not a separator in RFC 4514")
		case '\\':
			p.i++
			if p.i >= len(p.s) {
				return "", errors.New("dangling escape")
			}
			c2 := p.s[p.i]
			if isHex(c2) {
				if p.i+1 >= len(p.s) || !isHex(p.s[p.i+1]) {
					return "", errors.New("bad hex escape")
				}
				v, _ := hex.DecodeString(p.s[p.i : p.i+2])
				b.WriteByte(v[0])
				p.i += 2
			} else {
				b.WriteByte(c2)
				p.i++
			}
			trailing = 0
			continue
		case '"', '<', '>', 0:
			return "", fmt.Errorf("unescaped %q in value", c)
		case '=':
			// Accepted by OpenLDAP in values; RFC 4514 allows it unescaped.
		}
		if c == ' ' {
			trailing++
		} else {
			trailing = 0
		}
		b.WriteByte(c)
		p.i++
	}
	out := b.String()
	return checkUTF8(out[:len(out)-trailing])
}

// checkUTF8 refuses a value that is not UTF-8, wherever it ends: String
// writes such bytes raw, so an accepted one would make a DN (and the entry
// record that stores it) that no longer parses.
func checkUTF8(v string) (string, error) {
	if !utf8.ValidString(v) {
		return "", errors.New("value is not UTF-8")
	}
	return v, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// escapeValue writes v escaped per RFC 4514 §2.4.
func escapeValue(b *strings.Builder, v string) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '#' && i == 0, c == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(b, "\\%02x", c)
		default:
			b.WriteByte(c)
		}
	}
}

// String returns the DN in RFC 4514 form with types and value case as
// written.
func (d DN) String() string {
	var b strings.Builder
	for i, rdn := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		for j, ava := range rdn {
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(ava.Type)
			b.WriteByte('=')
			escapeValue(&b, ava.Value)
		}
	}
	return b.String()
}

// Norm returns the normalised form used for comparison and keys:
// canonical lower-case attribute names, values normalised by their
// equality rule, multi-valued RDNs sorted.
func (d DN) Norm() string {
	var b strings.Builder
	for i := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(d[i].Norm())
	}
	return b.String()
}

// Norm returns the normalised RDN (see DN.Norm).
func (r RDN) Norm() string {
	parts := make([]string, len(r))
	for i, ava := range r {
		var b strings.Builder
		at := LookupAttr(ava.Type)
		b.WriteString(at.lower)
		b.WriteByte('=')
		nv, err := at.normalize(ava.Value)
		if err != nil {
			nv = ava.Value
		}
		escapeValue(&b, nv)
		parts[i] = b.String()
	}
	if len(parts) > 1 {
		sort.Strings(parts)
	}
	return strings.Join(parts, "+")
}

// Equal reports whether d and o name the same entry.
func (d DN) Equal(o DN) bool {
	if len(d) != len(o) {
		return false
	}
	for i := range d {
		if d[i].Norm() != o[i].Norm() {
			return false
		}
	}
	return true
}

// Parent returns the DN without its first RDN (the root for a one-RDN DN).
func (d DN) Parent() DN {
	if len(d) == 0 {
		return nil
	}
	return d[1:]
}

// IsUnder reports whether d equals base or lies beneath it.
func (d DN) IsUnder(base DN) bool {
	if len(d) < len(base) {
		return false
	}
	return d[len(d)-len(base):].Equal(base)
}

// Child returns the DN of rdn directly under d.
func (d DN) Child(rdn RDN) DN {
	out := make(DN, 0, len(d)+1)
	out = append(out, rdn)
	return append(out, d...)
}

// NormalizeDN parses and normalises s in one step.
func NormalizeDN(s string) (string, error) {
	dn, err := ParseDN(s)
	if err != nil {
		return "", err
	}
	return dn.Norm(), nil
}
