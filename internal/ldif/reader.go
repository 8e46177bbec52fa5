package ldif

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Attr is one attribute of a record: its description as written (type and
// options, e.g. "cn" or "cn;lang-en") and its values in file order.
// Values are raw bytes held in strings; a base64 value is decoded.
type Attr struct {
	Type   string
	Values []string
}

// Record is one LDIF record: an entry (a content record, or a change
// record with `changetype: add`).
type Record struct {
	// Line is the line of the record's dn: line, for messages.
	Line int
	// DN is the distinguished name as written (decoded when base64).
	DN string
	// ChangeType is "" for a content record and "add" for a change record
	// that adds the entry.
	ChangeType string
	// Attrs lists the attributes in the order they first appear. Lines of
	// the same description (compared case-insensitively) are merged into
	// one Attr.
	Attrs []Attr
}

// Get returns the values of the attribute description name (compared
// case-insensitively), or nil.
func (r *Record) Get(name string) []string {
	for _, a := range r.Attrs {
		if strings.EqualFold(a.Type, name) {
			return a.Values
		}
	}
	return nil
}

// Error is a syntax error in an LDIF input, at a line.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func errorf(line int, format string, a ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, a...)}
}

// Reader reads records from an LDIF input.
type Reader struct {
	r    *bufio.Reader
	line int // physical lines read so far
	// next is one physical line read ahead (to see whether the following
	// line continues it), valid when hasNext.
	next    []byte
	hasNext bool
	eof     bool
	readErr error
	started bool // a record or the version line has been seen
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Line returns the number of lines read so far (for progress).
func (r *Reader) Line() int { return r.line }

// physical reads one line without its line ending. ok is false at the end
// of the input (or on a read error, kept in r.readErr).
func (r *Reader) physical() (line []byte, ok bool) {
	if r.hasNext {
		r.hasNext = false
		return r.next, true
	}
	if r.eof {
		return nil, false
	}
	b, err := r.r.ReadBytes('\n')
	if err != nil {
		r.eof = true
		if !errors.Is(err, io.EOF) {
			r.readErr = err
			return nil, false
		}
		if len(b) == 0 {
			return nil, false
		}
	}
	r.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if r.line == 1 {
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	}
	return append([]byte(nil), b...), true
}

func (r *Reader) unread(b []byte) {
	r.next, r.hasNext = b, true
}

// logicalLine is one line with its continuations joined.
type logicalLine struct {
	no   int // the line it starts on
	text []byte
}

// logical reads one logical line: a physical line and the lines after it
// that begin with a space. An empty text means a blank line (a record
// separator). ok is false at the end of the input.
func (r *Reader) logical() (logicalLine, bool, error) {
	b, ok := r.physical()
	if !ok {
		return logicalLine{}, false, r.readErr
	}
	ll := logicalLine{no: r.line, text: b}
	if len(b) > 0 && b[0] == ' ' {
		return ll, true, errorf(ll.no, "a continuation line (it begins with a space) with no line before it to continue; a record starts at the left margin")
	}
	if len(b) == 0 {
		return ll, true, nil
	}
	for {
		c, ok := r.physical()
		if !ok {
			return ll, true, r.readErr
		}
		if len(c) == 0 || c[0] != ' ' {
			r.unread(c)
			return ll, true, nil
		}
		ll.text = append(ll.text, c[1:]...)
	}
}

// Next returns the next record, or io.EOF after the last one. After an
// *Error the Reader has skipped the rest of that record, so calling Next
// again continues with the record after it.
func (r *Reader) Next() (*Record, error) {
	var lines []logicalLine
	for {
		ll, ok, err := r.logical()
		if err != nil {
			var le *Error
			if errors.As(err, &le) {
				r.skipRecord()
			}
			return nil, err
		}
		if !ok {
			if len(lines) == 0 {
				return nil, io.EOF
			}
			break
		}
		if len(ll.text) == 0 {
			if len(lines) == 0 {
				continue // blank lines between records
			}
			break
		}
		if ll.text[0] == '#' {
			continue // a comment, with its continuations
		}
		if !r.started && len(lines) == 0 && hasPrefixFold(ll.text, "version:") {
			r.started = true
			v := strings.TrimSpace(string(ll.text[len("version:"):]))
			if v != "1" {
				r.skipRecord()
				return nil, errorf(ll.no, "LDIF version %q is not supported (only version: 1)", v)
			}
			continue
		}
		r.started = true
		lines = append(lines, ll)
	}
	return parseRecord(lines)
}

// skipRecord discards lines up to the next blank line.
func (r *Reader) skipRecord() {
	for {
		b, ok := r.physical()
		if !ok || len(b) == 0 {
			return
		}
	}
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// parseRecord turns the logical lines of one record (no comments, no
// blank lines) into a Record.
func parseRecord(lines []logicalLine) (*Record, error) {
	first := lines[0]
	typ, val, err := parseLine(first)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(typ, "dn") {
		return nil, errorf(first.no, "the record does not start with a dn: line (found %q); records are separated by blank lines", clip(typ))
	}
	if !utf8.ValidString(val) {
		return nil, errorf(first.no, "the dn is not valid UTF-8")
	}
	rec := &Record{Line: first.no, DN: val}
	rest := lines[1:]
	if len(rest) > 0 {
		typ, val, err := parseLine(rest[0])
		if err != nil {
			return nil, err
		}
		switch {
		case strings.EqualFold(typ, "control"):
			return nil, errorf(rest[0].no, "control: lines are not supported by an import")
		case strings.EqualFold(typ, "changetype"):
			switch strings.ToLower(strings.TrimSpace(val)) {
			case "add":
				rec.ChangeType = "add"
				rest = rest[1:]
			case "modify", "delete", "modrdn", "moddn":
				return nil, errorf(rest[0].no, "changetype: %s is not supported: an import loads entries (content records or changetype: add); apply changes to a running dird with ldapmodify", strings.ToLower(strings.TrimSpace(val)))
			default:
				return nil, errorf(rest[0].no, "unknown changetype %q", clip(val))
			}
		}
	}
	if len(rest) == 0 {
		return nil, errorf(first.no, "the entry %q has no attributes", clip(rec.DN))
	}
	index := map[string]int{}
	firstLine := map[string]int{} // attribute+value -> line, to name repeats
	for _, ll := range rest {
		typ, val, err := parseLine(ll)
		if err != nil {
			return nil, err
		}
		lower := strings.ToLower(typ)
		switch lower {
		case "dn":
			return nil, errorf(ll.no, "a second dn: line in one record (a blank line must separate records)")
		case "changetype", "control":
			return nil, errorf(ll.no, "%s: must come right after the dn: line", typ)
		}
		key := lower + "\x00" + val
		if at, dup := firstLine[key]; dup {
			return nil, errorf(ll.no, "attribute %s: the same value again (first at line %d)", typ, at)
		}
		firstLine[key] = ll.no
		i, ok := index[lower]
		if !ok {
			i = len(rec.Attrs)
			index[lower] = i
			rec.Attrs = append(rec.Attrs, Attr{Type: typ})
		}
		rec.Attrs[i].Values = append(rec.Attrs[i].Values, val)
	}
	return rec, nil
}

// parseLine splits "type: value", "type:: base64" and refuses
// "type:< url".
func parseLine(ll logicalLine) (typ, val string, err error) {
	b := ll.text
	colon := bytes.IndexByte(b, ':')
	if colon < 0 {
		return "", "", errorf(ll.no, "no ':' in %q; an attribute line is \"type: value\"", clip(string(b)))
	}
	typ = string(b[:colon])
	if err := checkDescription(typ); err != nil {
		return "", "", errorf(ll.no, "%v", err)
	}
	rest := b[colon+1:]
	switch {
	case len(rest) > 0 && rest[0] == ':':
		enc := strings.Trim(string(rest[1:]), " ")
		dec, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return "", "", errorf(ll.no, "attribute %s: bad base64 value: %v", typ, err)
		}
		return typ, string(dec), nil
	case len(rest) > 0 && rest[0] == '<':
		return "", "", errorf(ll.no, "attribute %s: URL values (%s:<) are not supported; put the value in the file, base64-encoded with %s::", typ, typ, typ)
	}
	return typ, string(bytes.TrimLeft(rest, " ")), nil
}

// checkDescription checks an attribute description: a name (a letter,
// then letters, digits and hyphens) or a numeric OID, then options
// (";lang-en", ";binary").
func checkDescription(d string) error {
	if d == "" {
		return errors.New("a line begins with ':' (no attribute type)")
	}
	parts := strings.Split(d, ";")
	name := parts[0]
	switch {
	case name == "":
		return fmt.Errorf("attribute description %q has no type", clip(d))
	case isDigit(name[0]):
		prevDot := true
		for i := 0; i < len(name); i++ {
			switch c := name[i]; {
			case isDigit(c):
				prevDot = false
			case c == '.' && !prevDot:
				prevDot = true
			default:
				return fmt.Errorf("%q is not an attribute type (names are letters, digits and '-'; OIDs are digits and dots)", clip(d))
			}
		}
		if prevDot {
			return fmt.Errorf("%q is not an attribute type (an OID cannot end with a dot)", clip(d))
		}
	default:
		if !isAlpha(name[0]) || !isKeychars(name) {
			return fmt.Errorf("%q is not an attribute type (names are letters, digits and '-', starting with a letter)", clip(d))
		}
	}
	for _, opt := range parts[1:] {
		if opt == "" || !isKeychars(opt) {
			return fmt.Errorf("attribute description %q has a bad option %q", clip(d), clip(opt))
		}
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isKeychars(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !isDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

// clip shortens s for a message and makes it printable.
func clip(s string) string {
	const max = 60
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
