package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Attr is one attribute of an entry: its canonical type name and values.
type Attr struct {
	Type   string
	Values []string
}

// Entry is one directory entry. Attrs holds the stored attributes, user
// and operational; computed ones (memberOf, hasSubordinates, entryDN) are
// added by Directory.Computed.
type Entry struct {
	DN    DN
	Attrs []Attr

	key      string // tree key, see treeKey
	children uint64
}

// Key returns the entry's position in the directory's order, usable to
// resume a search after it (paged results).
func (e *Entry) Key() string { return e.key }

// HasChildren reports whether the entry has subordinates.
func (e *Entry) HasChildren() bool { return e.children > 0 }

func (e *Entry) index(name string) int {
	at := LookupAttr(name)
	for i := range e.Attrs {
		if e.Attrs[i].Type == at.Name || strings.EqualFold(e.Attrs[i].Type, at.Name) {
			return i
		}
	}
	return -1
}

// Get returns the values of the attribute name (aliases resolved), nil
// when absent. The slice is the entry's own: do not modify it.
func (e *Entry) Get(name string) []string {
	if i := e.index(name); i >= 0 {
		return e.Attrs[i].Values
	}
	return nil
}

// First returns the first value of name or "".
func (e *Entry) First(name string) string {
	if v := e.Get(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Set replaces the values of name; no values removes the attribute.
func (e *Entry) Set(name string, values ...string) {
	i := e.index(name)
	switch {
	case len(values) == 0 && i >= 0:
		e.Attrs = append(e.Attrs[:i], e.Attrs[i+1:]...)
	case len(values) == 0:
	case i >= 0:
		e.Attrs[i].Values = values
	default:
		e.Attrs = append(e.Attrs, Attr{Type: LookupAttr(name).Name, Values: values})
	}
}

// Clone returns a deep copy (values are immutable strings, slices copied).
func (e *Entry) Clone() *Entry {
	c := &Entry{DN: e.DN, key: e.key, children: e.children, Attrs: make([]Attr, len(e.Attrs))}
	for i, a := range e.Attrs {
		c.Attrs[i] = Attr{Type: a.Type, Values: append([]string(nil), a.Values...)}
	}
	return c
}

// HasObjectClass reports whether the entry has the object class (case
// ignored).
func (e *Entry) HasObjectClass(oc string) bool {
	for _, v := range e.Get("objectClass") {
		if strings.EqualFold(v, oc) {
			return true
		}
	}
	return false
}

// Keys of the KV layout. Each kind has a one-byte prefix:
//
//	e<tree key>                        -> entry record
//	i<attr>\x00<value>\x00<tree key>   -> DN string (equality index)
//	u<attr>\x00<value>                 -> tree key (uniqueness claim)
//	m<name>                            -> metadata
//	t<seconds><tree key>               -> DN string (pwdChangedTime order, timeindex.go)
//	n<micros><entry id>\x00<offset>    -> time sent (expiry notices, notices.go)
//
// The tree key lists the normalised RDNs from the root down, separated by
// \x00, so a subtree is one contiguous key range. Normalised RDNs never
// contain a raw \x00 (escapeValue escapes control bytes).
const (
	prefixEntry  = 'e'
	prefixIndex  = 'i'
	prefixUnique = 'u'
	prefixMeta   = 'm'
)

func treeKey(dn DN) string {
	var b strings.Builder
	for i := len(dn) - 1; i >= 0; i-- {
		b.WriteString(dn[i].Norm())
		if i > 0 {
			b.WriteByte(0)
		}
	}
	return b.String()
}

// IndexKey reports whether key is an index key: equality or password
// change (timeindex.go). Transactions write index keys but never read
// them back by key: only searches and the notifier scan them. So a KV on
// which writes are only checked, never searched (dird import's check, in
// package server), may count them without keeping them.
func IndexKey(key []byte) bool {
	return len(key) > 0 && (key[0] == prefixIndex || key[0] == prefixTime)
}

func entryKey(tk string) []byte {
	k := make([]byte, 0, len(tk)+1)
	k = append(k, prefixEntry)
	return append(k, tk...)
}

// escapeIndexValue keeps \x00 out of index values so the separator is
// unambiguous.
func escapeIndexValue(v string) string {
	if !strings.ContainsAny(v, "\x00\x01") {
		return v
	}
	r := strings.NewReplacer("\x01", "\x01\x02", "\x00", "\x01\x01")
	return r.Replace(v)
}

func indexPrefix(attr, normValue string) []byte {
	k := make([]byte, 0, 2+len(attr)+len(normValue)+1)
	k = append(k, prefixIndex)
	k = append(k, attr...)
	k = append(k, 0)
	k = append(k, escapeIndexValue(normValue)...)
	return append(k, 0)
}

func uniqueKey(attr, normValue string) []byte {
	k := make([]byte, 0, 2+len(attr)+len(normValue))
	k = append(k, prefixUnique)
	k = append(k, attr...)
	k = append(k, 0)
	return append(k, escapeIndexValue(normValue)...)
}

const recordVersion = 1

// encode writes the entry record: version, DN, child count, attributes.
func (e *Entry) encode() []byte {
	n := 16 + len(e.key)
	for _, a := range e.Attrs {
		n += len(a.Type) + 4
		for _, v := range a.Values {
			n += len(v) + 3
		}
	}
	b := make([]byte, 0, n)
	b = append(b, recordVersion)
	b = appendString(b, e.DN.String())
	b = binary.AppendUvarint(b, e.children)
	b = binary.AppendUvarint(b, uint64(len(e.Attrs)))
	for _, a := range e.Attrs {
		b = appendString(b, a.Type)
		b = binary.AppendUvarint(b, uint64(len(a.Values)))
		for _, v := range a.Values {
			b = appendString(b, v)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("store: corrupt entry record")

type decoder struct {
	b   []byte
	err error
	// whole, when set, holds the same bytes as b had at the start: strings
	// are then cut from it rather than copied one by one, so a decoded
	// entry costs one allocation for all its text (decoding was a tenth
	// of a search's CPU, most of it small allocations).
	whole string
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	var s string
	if d.whole != "" {
		at := len(d.whole) - len(d.b)
		s = d.whole[at : at+int(n)]
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

// decodeEntry parses a record written by encode; key is its tree key.
func decodeEntry(key string, rec []byte) (*Entry, error) {
	if len(rec) == 0 || rec[0] != recordVersion {
		return nil, fmt.Errorf("decoding entry %q: %w", key, errCorrupt)
	}
	d := decoder{b: rec[1:], whole: string(rec[1:])}
	dnStr := d.string()
	e := &Entry{key: key}
	e.children = d.uvarint()
	na := d.uvarint()
	if d.err == nil && na > uint64(len(d.b)) {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, fmt.Errorf("decoding entry %q: %w", key, d.err)
	}
	e.Attrs = make([]Attr, 0, na)
	for i := uint64(0); i < na && d.err == nil; i++ {
		t := d.string()
		nv := d.uvarint()
		if nv > uint64(len(d.b)) {
			d.err = errCorrupt
			break
		}
		vals := make([]string, 0, nv)
		for j := uint64(0); j < nv && d.err == nil; j++ {
			vals = append(vals, d.string())
		}
		e.Attrs = append(e.Attrs, Attr{Type: t, Values: vals})
	}
	if d.err != nil {
		return nil, fmt.Errorf("decoding entry %q: %w", key, d.err)
	}
	dn, err := ParseDN(dnStr)
	if err != nil {
		return nil, fmt.Errorf("decoding entry %q: %w", key, err)
	}
	e.DN = dn
	return e, nil
}
