package main

// A minimal LDAPv3 (RFC 4511) BER codec: just the two requests dirdbench
// sends (simple BindRequest, SearchRequest with one equality or presence
// filter) and just enough of the responses to judge them (message ID,
// protocolOp tag, resultCode). Requests are appended to a caller's buffer
// and responses are parsed in place, so a steady-state operation
// allocates nothing; a general client (go-ldap) builds a packet tree per
// message, and on a 2-core machine that weight is taken from the server
// being measured.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// BER tags (class, constructed bit and number in one byte).
const (
	tagInteger    = 0x02
	tagOctets     = 0x04
	tagEnumerated = 0x0a
	tagBoolean    = 0x01
	tagSequence   = 0x30

	opBindRequest      = 0x60 // [APPLICATION 0] constructed
	opBindResponse     = 0x61 // [APPLICATION 1]
	opSearchRequest    = 0x63 // [APPLICATION 3]
	opSearchEntry      = 0x64 // [APPLICATION 4] SearchResultEntry
	opSearchDone       = 0x65 // [APPLICATION 5] SearchResultDone
	opSearchReference  = 0x73 // [APPLICATION 19] SearchResultReference
	opExtendedResponse = 0x78 // [APPLICATION 24], e.g. a notice of disconnection

	authSimple     = 0x80 // [0] primitive: simple password
	filterEquality = 0xa3 // [3] constructed: equalityMatch
	filterPresent  = 0x87 // [7] primitive: present

	scopeBase    = 0
	scopeSubtree = 2
)

// maxMessage bounds one response, so a broken length cannot make the
// generator allocate without limit.
const maxMessage = 16 << 20

var errMalformed = errors.New("ldap: malformed BER")

// lenLen is the size of a BER definite length field for n.
func lenLen(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffff:
		return 4
	}
	return 5
}

// tlvLen is the size of a whole TLV with n content bytes.
func tlvLen(n int) int { return 1 + lenLen(n) + n }

func appendHeader(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	switch lenLen(n) {
	case 1:
		return append(b, byte(n))
	case 2:
		return append(b, 0x81, byte(n))
	case 3:
		return append(b, 0x82, byte(n>>8), byte(n))
	case 4:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// intLen is the size of the two's-complement content of v, minimal.
func intLen(v int32) int {
	n := 1
	for v > 127 || v < -128 {
		v >>= 8
		n++
	}
	return n
}

func appendInt(b []byte, tag byte, v int32) []byte {
	n := intLen(v)
	b = append(b, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func appendString(b []byte, tag byte, s string) []byte {
	return append(appendHeader(b, tag, len(s)), s...)
}

// appendBindRequest appends a simple BindRequest for the DN
// "uid=<uid>,<suffix>" (suffix is e.g. "ou=people,dc=example,dc=com"), or
// for suffix alone when uid is empty, so per-user DNs are never built as
// strings.
func appendBindRequest(b []byte, id int32, uid, suffix, password string) []byte {
	dnLen := len(suffix)
	if uid != "" {
		dnLen += len("uid=") + len(uid) + 1
	}
	body := 3 + tlvLen(dnLen) + tlvLen(len(password)) // version INTEGER 3
	msg := tlvLen(intLen(id)) + tlvLen(body)
	b = appendHeader(b, tagSequence, msg)
	b = appendInt(b, tagInteger, id)
	b = appendHeader(b, opBindRequest, body)
	b = append(b, tagInteger, 1, 3)
	b = appendHeader(b, tagOctets, dnLen)
	if uid != "" {
		b = append(b, "uid="...)
		b = append(b, uid...)
		b = append(b, ',')
	}
	b = append(b, suffix...)
	return appendString(b, authSimple, password)
}

// searchRequest is the fixed part of the searches a connection sends.
type searchRequest struct {
	base  string
	scope int32
	attr  string   // the filter's attribute
	attrs []string // attributes asked for
}

// appendSearch appends a SearchRequest with filter (attr=value), or
// (attr=*) when present is set; sizeLimit and timeLimit 0, typesOnly
// false, aliases never dereferenced.
func (s *searchRequest) appendSearch(b []byte, id int32, value string, present bool) []byte {
	filter := tlvLen(len(s.attr)) + tlvLen(len(value))
	if present {
		filter = len(s.attr)
	}
	attrs := 0
	for _, a := range s.attrs {
		attrs += tlvLen(len(a))
	}
	// base, scope, derefAliases, sizeLimit, timeLimit, typesOnly, filter, attributes
	body := tlvLen(len(s.base)) + 3 + 3 + 3 + 3 + 3 + tlvLen(filter) + tlvLen(attrs)
	msg := tlvLen(intLen(id)) + tlvLen(body)
	b = appendHeader(b, tagSequence, msg)
	b = appendInt(b, tagInteger, id)
	b = appendHeader(b, opSearchRequest, body)
	b = appendString(b, tagOctets, s.base)
	b = append(b, tagEnumerated, 1, byte(s.scope))
	b = append(b, tagEnumerated, 1, 0)
	b = append(b, tagInteger, 1, 0)
	b = append(b, tagInteger, 1, 0)
	b = append(b, tagBoolean, 1, 0)
	if present {
		b = appendString(b, filterPresent, s.attr)
	} else {
		b = appendHeader(b, filterEquality, filter)
		b = appendString(b, tagOctets, s.attr)
		b = appendString(b, tagOctets, value)
	}
	b = appendHeader(b, tagSequence, attrs)
	for _, a := range s.attrs {
		b = appendString(b, tagOctets, a)
	}
	return b
}

// readTLVHeader reads one tag and definite length from r.
func readTLVHeader(r *bufio.Reader) (tag byte, n int, err error) {
	if tag, err = r.ReadByte(); err != nil {
		return 0, 0, err
	}
	l, err := r.ReadByte()
	if err != nil {
		return 0, 0, noEOF(err)
	}
	if l < 0x80 {
		return tag, int(l), nil
	}
	k := int(l & 0x7f)
	if k == 0 || k > 4 {
		return 0, 0, fmt.Errorf("%w: length of %d bytes", errMalformed, k)
	}
	for range k {
		c, err := r.ReadByte()
		if err != nil {
			return 0, 0, noEOF(err)
		}
		n = n<<8 | int(c)
	}
	return tag, n, nil
}

// noEOF turns an EOF inside a message into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readMessage reads one LDAPMessage from r into *buf (grown as needed and
// reused) and returns the content of its outer SEQUENCE.
func readMessage(r *bufio.Reader, buf *[]byte) ([]byte, error) {
	tag, n, err := readTLVHeader(r)
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("%w: message tag %#x, want SEQUENCE", errMalformed, tag)
	}
	if n > maxMessage {
		return nil, fmt.Errorf("%w: message of %d bytes", errMalformed, n)
	}
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	b := (*buf)[:n]
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, noEOF(err)
	}
	return b, nil
}

// parseTLV splits the first TLV off b.
func parseTLV(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errMalformed
	}
	tag, l := b[0], int(b[1])
	b = b[2:]
	if l >= 0x80 {
		k := l & 0x7f
		if k == 0 || k > 4 || len(b) < k {
			return 0, nil, nil, errMalformed
		}
		l = 0
		for _, c := range b[:k] {
			l = l<<8 | int(c)
		}
		b = b[k:]
	}
	if l > len(b) {
		return 0, nil, nil, errMalformed
	}
	return tag, b[:l], b[l:], nil
}

// parseInt decodes a BER INTEGER or ENUMERATED content of up to 4 bytes.
func parseInt(c []byte) (int32, error) {
	if len(c) == 0 || len(c) > 4 {
		return 0, errMalformed
	}
	v := int32(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int32(x)
	}
	return v, nil
}

// parseMessage splits an LDAPMessage's content into its message ID,
// protocolOp tag and protocolOp content (controls are ignored).
func parseMessage(msg []byte) (id int32, op byte, body []byte, err error) {
	tag, c, rest, err := parseTLV(msg)
	if err != nil || tag != tagInteger {
		return 0, 0, nil, fmt.Errorf("%w: no message ID", errMalformed)
	}
	if id, err = parseInt(c); err != nil {
		return 0, 0, nil, fmt.Errorf("%w: message ID", errMalformed)
	}
	op, body, _, err = parseTLV(rest)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%w: protocolOp", errMalformed)
	}
	return id, op, body, nil
}

// parseResult reads an LDAPResult (BindResponse, SearchResultDone,
// ExtendedResponse): the resultCode and the diagnosticMessage (which
// aliases body).
func parseResult(body []byte) (code int32, diag []byte, err error) {
	tag, c, rest, err := parseTLV(body)
	if err != nil || tag != tagEnumerated {
		return 0, nil, fmt.Errorf("%w: no resultCode", errMalformed)
	}
	if code, err = parseInt(c); err != nil {
		return 0, nil, fmt.Errorf("%w: resultCode", errMalformed)
	}
	// matchedDN, then diagnosticMessage; a server that leaves them out
	// still gave a result.
	if _, _, rest, err = parseTLV(rest); err != nil {
		return code, nil, nil
	}
	if tag, c, _, err = parseTLV(rest); err != nil || tag != tagOctets {
		return code, nil, nil
	}
	return code, c, nil
}

// resultError describes a non-zero LDAP result.
type resultError struct {
	op   string
	code int32
	diag string
}

func (e *resultError) Error() string {
	if e.diag == "" {
		return fmt.Sprintf("%s: LDAP result %d", e.op, e.code)
	}
	return fmt.Sprintf("%s: LDAP result %d: %s", e.op, e.code, e.diag)
}
