package ldif

import (
	"bufio"
	"encoding/base64"
	"io"
)

// lineWidth is where the Writer folds lines (RFC 2849 recommends no more
// than 76 columns; slapcat folds at 77, ldapsearch at 79).
const lineWidth = 76

// Writer writes records as LDIF. It writes no version line: OpenLDAP's
// slapadd refuses one ("entry -1 has no dn"), and RFC 2849 readers,
// dird's included, do not need it.
type Writer struct {
	w   *bufio.Writer
	err error
}

// NewWriter returns a Writer on w. Call Flush when done.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10)}
}

// Write writes one record followed by a blank line.
func (w *Writer) Write(r *Record) error {
	w.line("dn", r.DN)
	if r.ChangeType != "" {
		w.line("changetype", r.ChangeType)
	}
	for _, a := range r.Attrs {
		for _, v := range a.Values {
			w.line(a.Type, v)
		}
	}
	w.write("\n")
	return w.err
}

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	w.err = w.w.Flush()
	return w.err
}

func (w *Writer) write(s string) {
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

// line writes "name: value" or "name:: base64", folded.
func (w *Writer) line(name, value string) {
	var s string
	switch {
	case value == "":
		s = name + ":"
	case NeedsBase64(value):
		s = name + ":: " + base64.StdEncoding.EncodeToString([]byte(value))
	default:
		s = name + ": " + value
	}
	// Every byte is ASCII here (anything else is base64), so folding at a
	// byte count never splits a character.
	w.write(s[:min(len(s), lineWidth)])
	w.write("\n")
	for s = s[min(len(s), lineWidth):]; len(s) > 0; s = s[min(len(s), lineWidth-1):] {
		w.write(" ")
		w.write(s[:min(len(s), lineWidth-1)])
		w.write("\n")
	}
}

// NeedsBase64 reports whether an LDIF writer must base64-encode v: it
// holds a byte outside printable ASCII (a control character, a non-ASCII
// or invalid UTF-8 byte; RFC 2849's SAFE-STRING is 7-bit), or it begins
// with a space, ':' or '<', or ends with a space (which readers would
// strip or misread).
func NeedsBase64(v string) bool {
	if v == "" {
		return false
	}
	if c := v[0]; c == ' ' || c == ':' || c == '<' {
		return true
	}
	if v[len(v)-1] == ' ' {
		return true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return true
		}
	}
	return false
}
