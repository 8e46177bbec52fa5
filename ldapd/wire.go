package ldapd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/dird/dird/store"
)

// This file is the LDAP wire layer: bounded framing of one LDAPMessage, a
// small BER decoder over the framed bytes, and an append-style BER encoder
// for responses. We do not hand client bytes to go-asn1-ber: its reader
// allocates before it knows the input is there, builds a tree whose memory
// grows with the square of the nesting depth, and has had length-wrapping
// and indefinite-length bugs (SECURITY.md §6.3). Here a message costs at most
// its own length in buffer plus the decoded structs, and nesting is bounded.

// errProtocol marks a message that cannot be framed, or whose envelope
// (messageID, protocolOp tag) cannot be read. RFC 4511 §4.1.1: the server
// SHOULD send a Notice of Disconnection with protocolError and MUST close
// the connection, since the stream can no longer be trusted.
var errProtocol = errors.New("ldapd: protocol error")

// errBadRequest marks a well-framed message whose operation or controls are
// malformed. It always reaches the caller inside a *decodeError.
var errBadRequest = errors.New("ldapd: malformed request")

// decodeError is returned by readRequest for a message that was framed and
// whose messageID and operation tag were read, but whose operation or
// controls could not be decoded. The stream is still in sync, so the caller
// may answer protocolError (2) to MessageID and keep the connection, as
// OpenLDAP does for a bad filter.
type decodeError struct {
	MessageID int64
	// ReqTag is the application tag of the request's protocolOp.
	ReqTag int
	// Err wraps errBadRequest.
	Err error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("message %d: %v", e.MessageID, e.Err)
}

func (e *decodeError) Unwrap() error { return e.Err }

// reply returns the protocolError response to send for e, or nil when the
// operation has no response (Unbind, Abandon; RFC 4511 §4.3, §4.11).
func (e *decodeError) reply() *Response {
	tag := responseTag(e.ReqTag)
	if tag == 0 {
		return nil
	}
	return &Response{
		MessageID: e.MessageID,
		AppTag:    tag,
		Result:    Result{Code: 2, Diagnostic: e.Err.Error()},
	}
}

// Application tags of the request protocolOps (RFC 4511 §4.2 - §4.12).
const (
	appBindRequest     = 0
	appUnbindRequest   = 2
	appSearchRequest   = 3
	appModifyRequest   = 6
	appAddRequest      = 8
	appDelRequest      = 10
	appModifyDNRequest = 12
	appCompareRequest  = 14
	appAbandonRequest  = 16
	appExtendedRequest = 23
)

// responseTag maps a request tag to the App* tag of its response, 0 if the
// request has none.
func responseTag(reqTag int) int {
	switch reqTag {
	case appBindRequest:
		return AppBindResponse
	case appSearchRequest:
		return AppSearchDone
	case appModifyRequest:
		return AppModifyResponse
	case appAddRequest:
		return AppAddResponse
	case appDelRequest:
		return AppDelResponse
	case appModifyDNRequest:
		return AppModifyDNResponse
	case appCompareRequest:
		return AppCompareResponse
	case appExtendedRequest:
		return AppExtendedResponse
	}
	return 0
}

// BER identifier octets used by LDAP. LDAP needs only the low-tag-number
// form (one identifier octet).
const (
	tagBoolean     = 0x01
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30
	tagSet         = 0x31

	classApplication = 0x40
	classContext     = 0x80
	classMask        = 0xc0
	constructed      = 0x20
)

// Filter bounds. RFC 4511 sets none; these stop a small message from
// becoming a deep recursion or a large tree: a BER filter node is as small
// as three bytes on the wire and 144 decoded, so 1000 nodes cost ~140 KiB.
// Real clients nest a handful of levels, and their (|(uid=a)(uid=b)...)
// lists stay in the hundreds.
const (
	maxFilterDepth = 64
	maxFilterNodes = 1000
)

// readChunk bounds the first allocation for a message body: a peer that
// announces a large length must send the bytes before we allocate for them.
const readChunk = 64 << 10

// readRequest reads exactly one LDAPMessage from r.
//
// maxSize bounds the length of the message's contents (the outer SEQUENCE
// length), as slapd's sockbuf_max_incoming does; it is checked before any
// allocation. Errors:
//   - io.EOF when the peer closed the connection before the first byte;
//   - an error wrapping errProtocol for an unframeable message, or one whose
//     messageID or protocolOp tag is unreadable: close the connection;
//   - a *decodeError (wrapping errBadRequest) together with a *Request that
//     carries MessageID and a possibly partial Op: answer protocolError and
//     keep the connection;
//   - io.ErrUnexpectedEOF (wrapped) when the stream ends inside a message,
//     and read errors such as timeouts as they come: close the connection.
//
// The decoded strings of one request share one copy of the message (Bind and
// Extended requests excepted, since they carry secrets), and []byte fields
// alias the message buffer; a caller that keeps a string for long should
// strings.Clone it.
func readRequest(r *bufio.Reader, maxSize int) (*Request, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return nil, err
	}
	if tag != tagSequence {
		return nil, fmt.Errorf("%w: message tag %#02x is not a SEQUENCE", errProtocol, tag)
	}
	n, err := readLength(r, maxSize)
	if err != nil {
		return nil, err
	}
	buf, err := readBody(r, n)
	if err != nil {
		return nil, err
	}
	return decodeMessage(buf)
}

// readLength reads a definite length (RFC 4511 §5.1: only the definite form
// is used) of at most 4 octets, and checks it against maxSize.
func readLength(r *bufio.Reader, maxSize int) (int, error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, unexpectedEOF(err)
	}
	if b < 0x80 {
		if int(b) > maxSize {
			return 0, fmt.Errorf("%w: message length %d exceeds %d", errProtocol, b, maxSize)
		}
		return int(b), nil
	}
	k := int(b & 0x7f)
	if k == 0 {
		return 0, fmt.Errorf("%w: indefinite length", errProtocol)
	}
	if k > 4 {
		return 0, fmt.Errorf("%w: length encoded in %d octets", errProtocol, k)
	}
	var n uint64
	for range k {
		b, err := r.ReadByte()
		if err != nil {
			return 0, unexpectedEOF(err)
		}
		n = n<<8 | uint64(b)
	}
	if maxSize < 0 || n > uint64(maxSize) {
		return 0, fmt.Errorf("%w: message length %d exceeds %d", errProtocol, n, maxSize)
	}
	return int(n), nil
}

// readBody reads n bytes, growing the buffer as the bytes arrive so that a
// peer announcing maxSize and sending little costs little memory.
func readBody(r *bufio.Reader, n int) ([]byte, error) {
	c := min(n, readChunk)
	buf := make([]byte, c)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, unexpectedEOF(err)
	}
	for len(buf) < n {
		c = min(n, 2*len(buf))
		nb := make([]byte, c)
		copy(nb, buf)
		if _, err := io.ReadFull(r, nb[len(buf):]); err != nil {
			return nil, unexpectedEOF(err)
		}
		buf = nb
	}
	return buf, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading message: %w", err)
}

// decodeMessage decodes the contents of an LDAPMessage SEQUENCE
// (RFC 4511 §4.1.1).
func decodeMessage(buf []byte) (*Request, error) {
	d := msgDecoder{buf: buf}
	r := berReader{buf: buf, end: len(buf)}
	idT, err := r.expect(tagInteger)
	if err != nil {
		return nil, fmt.Errorf("%w: reading messageID: %w", errProtocol, err)
	}
	id, err := d.intIn(idT, 0, math.MaxInt32)
	if err != nil {
		return nil, fmt.Errorf("%w: reading messageID: %w", errProtocol, err)
	}
	opT, err := r.next()
	if err != nil {
		return nil, fmt.Errorf("%w: message %d: reading protocolOp: %w", errProtocol, id, err)
	}
	if opT.tag&classMask != classApplication {
		return nil, fmt.Errorf("%w: message %d: protocolOp tag %#02x is not an application tag", errProtocol, id, opT.tag)
	}
	num := int(opT.tag & 0x1f)
	req := &Request{MessageID: id}
	// Bind and Extended requests carry passwords: their strings get their
	// own copies, so a kept bound DN does not pin the password in memory.
	d.shared = num != appBindRequest && num != appExtendedRequest
	req.Op, err = d.op(num, opT)
	if err == nil && r.more() {
		// Trailing components other than controls are ignored (RFC 4511
		// §4: implied extensibility), but must still be well formed.
		t, terr := r.next()
		switch {
		case terr != nil:
			err = fmt.Errorf("reading element after the operation: %w", terr)
		case t.tag == classContext|constructed|0:
			if req.Controls, err = d.controls(r.in(t)); err != nil {
				err = fmt.Errorf("decoding controls: %w", err)
			}
		}
	}
	if err != nil {
		return req, &decodeError{MessageID: id, ReqTag: num, Err: fmt.Errorf("%w: %w", errBadRequest, err)}
	}
	return req, nil
}

// tlv is one BER element: its identifier octet and where its contents lie.
type tlv struct {
	tag      byte
	off, end int
}

// berReader walks the elements in buf[off:end]. It never allocates: every
// element it returns is an offset range inside buf, and a length is checked
// against what is left before it is used.
type berReader struct {
	buf      []byte
	off, end int
}

var (
	errTruncated  = errors.New("element truncated")
	errIndefinite = errors.New("indefinite length")
)

func (r *berReader) more() bool { return r.off < r.end }

// peek returns the identifier octet of the next element, 0 at the end.
func (r *berReader) peek() byte {
	if r.off >= r.end {
		return 0
	}
	return r.buf[r.off]
}

// in returns a reader over the contents of t.
func (r *berReader) in(t tlv) berReader { return berReader{buf: r.buf, off: t.off, end: t.end} }

func (r *berReader) next() (tlv, error) {
	p, end := r.off, r.end
	if end-p < 2 {
		return tlv{}, errTruncated
	}
	tag := r.buf[p]
	if tag&0x1f == 0x1f {
		return tlv{}, fmt.Errorf("multi-octet tag %#02x", tag)
	}
	l := uint64(r.buf[p+1])
	p += 2
	if l >= 0x80 {
		k := int(l & 0x7f)
		switch {
		case k == 0:
			return tlv{}, errIndefinite
		case k > 4:
			return tlv{}, fmt.Errorf("length encoded in %d octets", k)
		case end-p < k:
			return tlv{}, errTruncated
		}
		l = 0
		for _, b := range r.buf[p : p+k] {
			l = l<<8 | uint64(b)
		}
		p += k
	}
	if l > uint64(end-p) {
		return tlv{}, errTruncated
	}
	r.off = p + int(l)
	return tlv{tag: tag, off: p, end: r.off}, nil
}

func (r *berReader) expect(tag byte) (tlv, error) {
	t, err := r.next()
	if err == nil && t.tag != tag {
		err = fmt.Errorf("got tag %#02x, want %#02x", t.tag, tag)
	}
	return t, err
}

// count returns the number of elements left, so that slices can be sized
// once; a malformed element ends the count and is reported by the real pass.
func (r berReader) count() int {
	n := 0
	for r.more() {
		if _, err := r.next(); err != nil {
			break
		}
		n++
	}
	return n
}

// msgDecoder turns the elements of one message into message.go types.
type msgDecoder struct {
	buf []byte
	// s is buf as one string, made on first use when shared is set, so
	// that all decoded strings of a message cost a single allocation.
	s      string
	shared bool
	nodes  int // filter nodes decoded so far
}

func (d *msgDecoder) str(t tlv) string {
	if !d.shared {
		return string(d.buf[t.off:t.end])
	}
	if d.s == "" {
		d.s = string(d.buf)
	}
	return d.s[t.off:t.end]
}

// bytes aliases t's contents; the capacity is clipped so that an append by
// the caller cannot overwrite the rest of the message.
func (d *msgDecoder) bytes(t tlv) []byte { return d.buf[t.off:t.end:t.end] }

// text reads an OCTET STRING (LDAPString, LDAPDN, AssertionValue, ...).
// RFC 4511 §5.1 allows only the primitive form.
func (d *msgDecoder) text(r *berReader) (string, error) {
	t, err := r.expect(tagOctetString)
	if err != nil {
		return "", err
	}
	return d.str(t), nil
}

// intIn decodes t's contents as an INTEGER or ENUMERATED in [lo, hi].
func (d *msgDecoder) intIn(t tlv, lo, hi int64) (int64, error) {
	v, err := berInt(d.buf[t.off:t.end])
	if err != nil {
		return 0, err
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("integer %d out of range [%d, %d]", v, lo, hi)
	}
	return v, nil
}

func (d *msgDecoder) readInt(r *berReader, tag byte, lo, hi int64) (int, error) {
	t, err := r.expect(tag)
	if err != nil {
		return 0, err
	}
	v, err := d.intIn(t, lo, hi)
	return int(v), err
}

func (d *msgDecoder) readBool(r *berReader) (bool, error) {
	t, err := r.expect(tagBoolean)
	if err != nil {
		return false, err
	}
	return berBool(d.buf[t.off:t.end])
}

// berInt decodes a two's-complement INTEGER of 1 to 8 octets.
func berInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("integer of %d octets", len(b))
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// berBool accepts any non-zero octet as TRUE: RFC 4511 §5.1 makes senders
// use 0xFF, but X.690 receivers accept any.
func berBool(b []byte) (bool, error) {
	if len(b) != 1 {
		return false, fmt.Errorf("boolean of %d octets", len(b))
	}
	return b[0] != 0, nil
}

func (d *msgDecoder) op(num int, t tlv) (any, error) {
	r := berReader{buf: d.buf, off: t.off, end: t.end}
	// want is the identifier octet the operation must have: the right
	// number with the wrong form is malformed, not unknown.
	var want byte
	var op any
	var err error
	switch num {
	case appBindRequest:
		want = 0x60
		op, err = d.bind(r)
	case appUnbindRequest:
		// [APPLICATION 2] NULL: contents are ignored, the session ends.
		want, op = 0x42, &UnbindRequest{}
	case appSearchRequest:
		want = 0x63
		op, err = d.search(r)
	case appModifyRequest:
		want = 0x66
		op, err = d.modify(r)
	case appAddRequest:
		want = 0x68
		op, err = d.add(r)
	case appDelRequest:
		// [APPLICATION 10] LDAPDN: primitive, the contents are the DN.
		want, op = 0x4a, &DelRequest{DN: d.str(t)}
	case appModifyDNRequest:
		want = 0x6c
		op, err = d.modifyDN(r)
	case appCompareRequest:
		want = 0x6e
		op, err = d.compare(r)
	case appAbandonRequest:
		want = 0x50
		a := &AbandonRequest{}
		a.MessageID, err = d.intIn(t, 0, math.MaxInt32)
		op = a
	case appExtendedRequest:
		want = 0x77
		op, err = d.extended(r)
	default:
		return &UnknownRequest{Tag: num}, nil
	}
	if t.tag != want {
		return op, fmt.Errorf("%s has identifier %#02x, want %#02x", opName(num), t.tag, want)
	}
	if err != nil {
		return op, fmt.Errorf("decoding %s: %w", opName(num), err)
	}
	return op, nil
}

func opName(num int) string {
	switch num {
	case appBindRequest:
		return "bind request"
	case appUnbindRequest:
		return "unbind request"
	case appSearchRequest:
		return "search request"
	case appModifyRequest:
		return "modify request"
	case appAddRequest:
		return "add request"
	case appDelRequest:
		return "delete request"
	case appModifyDNRequest:
		return "modify DN request"
	case appCompareRequest:
		return "compare request"
	case appAbandonRequest:
		return "abandon request"
	case appExtendedRequest:
		return "extended request"
	}
	return fmt.Sprintf("request [APPLICATION %d]", num)
}

// bind decodes RFC 4511 §4.2. Credentials is nil when absent and empty
// when present but empty, which SASL (RFC 4422 §5) tells apart.
func (d *msgDecoder) bind(r berReader) (*BindRequest, error) {
	op := &BindRequest{}
	var err error
	if op.Version, err = d.readInt(&r, tagInteger, 1, 127); err != nil {
		return op, fmt.Errorf("version: %w", err)
	}
	if op.Name, err = d.text(&r); err != nil {
		return op, fmt.Errorf("name: %w", err)
	}
	t, err := r.next()
	if err != nil {
		return op, fmt.Errorf("authentication: %w", err)
	}
	switch t.tag {
	case classContext | 0: // simple [0] OCTET STRING
		op.Simple = true
		op.Password = d.bytes(t)
	case classContext | constructed | 3: // sasl [3] SaslCredentials
		s := r.in(t)
		if op.Mechanism, err = d.text(&s); err != nil {
			return op, fmt.Errorf("sasl mechanism: %w", err)
		}
		if s.peek() == tagOctetString {
			c, _ := s.next()
			op.Credentials = d.bytes(c)
		}
	default:
		return op, fmt.Errorf("unsupported authentication choice %#02x", t.tag)
	}
	return op, nil
}

// search decodes RFC 4511 §4.5.1.
func (d *msgDecoder) search(r berReader) (*SearchRequest, error) {
	op := &SearchRequest{}
	var err error
	if op.BaseDN, err = d.text(&r); err != nil {
		return op, fmt.Errorf("baseObject: %w", err)
	}
	if op.Scope, err = d.readInt(&r, tagEnumerated, ScopeBase, ScopeChildren); err != nil {
		return op, fmt.Errorf("scope: %w", err)
	}
	if op.DerefAliases, err = d.readInt(&r, tagEnumerated, 0, 3); err != nil {
		return op, fmt.Errorf("derefAliases: %w", err)
	}
	if op.SizeLimit, err = d.readInt(&r, tagInteger, 0, math.MaxInt32); err != nil {
		return op, fmt.Errorf("sizeLimit: %w", err)
	}
	if op.TimeLimit, err = d.readInt(&r, tagInteger, 0, math.MaxInt32); err != nil {
		return op, fmt.Errorf("timeLimit: %w", err)
	}
	if op.TypesOnly, err = d.readBool(&r); err != nil {
		return op, fmt.Errorf("typesOnly: %w", err)
	}
	t, err := r.next()
	if err != nil {
		return op, fmt.Errorf("filter: %w", err)
	}
	if op.Filter, err = d.filter(t, 1); err != nil {
		return op, fmt.Errorf("filter: %w", err)
	}
	t, err = r.expect(tagSequence)
	if err != nil {
		return op, fmt.Errorf("attributes: %w", err)
	}
	a := r.in(t)
	if n := a.count(); n > 0 {
		op.Attributes = make([]string, 0, n)
	}
	for a.more() {
		s, err := d.text(&a)
		if err != nil {
			return op, fmt.Errorf("attributes: %w", err)
		}
		op.Attributes = append(op.Attributes, s)
	}
	return op, nil
}

// filter decodes one Filter (RFC 4511 §4.5.1.7) at nesting depth depth.
func (d *msgDecoder) filter(t tlv, depth int) (store.Filter, error) {
	var f store.Filter
	if depth > maxFilterDepth {
		return f, fmt.Errorf("nested deeper than %d", maxFilterDepth)
	}
	if d.nodes++; d.nodes > maxFilterNodes {
		return f, fmt.Errorf("more than %d elements", maxFilterNodes)
	}
	r := berReader{buf: d.buf, off: t.off, end: t.end}
	var err error
	switch t.tag {
	case 0xa0, 0xa1: // and [0], or [1]: SET OF Filter
		// An empty set is the absolute true/false filter of RFC 4526.
		f.Kind = store.FilterAnd
		if t.tag == 0xa1 {
			f.Kind = store.FilterOr
		}
		// Size the slice once, but never past the node budget.
		if n := min(r.count(), maxFilterNodes-d.nodes+1); n > 0 {
			f.Children = make([]store.Filter, 0, n)
		}
		for r.more() {
			c, err := r.next()
			if err != nil {
				return f, err
			}
			child, err := d.filter(c, depth+1)
			if err != nil {
				return f, err
			}
			f.Children = append(f.Children, child)
		}
	case 0xa2: // not [2] Filter (explicit: it wraps a CHOICE)
		f.Kind = store.FilterNot
		c, err := r.next()
		if err != nil {
			return f, fmt.Errorf("not: %w", err)
		}
		if r.more() {
			return f, errors.New("not: more than one filter")
		}
		child, err := d.filter(c, depth+1)
		if err != nil {
			return f, err
		}
		f.Children = []store.Filter{child}
	case 0xa3, 0xa5, 0xa6, 0xa8: // AttributeValueAssertion
		f.Kind = store.FilterKind(t.tag & 0x1f)
		if f.Attr, err = d.attr(&r); err != nil {
			return f, err
		}
		if f.Value, err = d.text(&r); err != nil {
			return f, fmt.Errorf("assertion value: %w", err)
		}
	case 0xa4:
		return d.substrings(r)
	case 0x87: // present [7] AttributeDescription, primitive
		f.Kind = store.FilterPresent
		if t.off == t.end {
			return f, errors.New("empty attribute description")
		}
		f.Attr = d.str(t)
	case 0xa9:
		return d.extensible(r)
	default:
		return f, fmt.Errorf("unknown filter choice %#02x", t.tag)
	}
	return f, nil
}

func (d *msgDecoder) attr(r *berReader) (string, error) {
	a, err := d.text(r)
	if err != nil {
		return "", fmt.Errorf("attribute description: %w", err)
	}
	if a == "" {
		return "", errors.New("empty attribute description")
	}
	return a, nil
}

// substrings decodes a SubstringFilter: at most one initial, first, and at
// most one final, last (RFC 4511 §4.5.1.7.2). Empty components match
// anything and are dropped.
func (d *msgDecoder) substrings(r berReader) (store.Filter, error) {
	f := store.Filter{Kind: store.FilterSubstrings}
	var err error
	if f.Attr, err = d.attr(&r); err != nil {
		return f, err
	}
	t, err := r.expect(tagSequence)
	if err != nil {
		return f, fmt.Errorf("substrings: %w", err)
	}
	s := r.in(t)
	if !s.more() {
		return f, errors.New("substrings: no components")
	}
	for i, final := 0, false; s.more(); i++ {
		c, err := s.next()
		if err != nil {
			return f, fmt.Errorf("substrings: %w", err)
		}
		if final {
			return f, errors.New("substrings: component after final")
		}
		v := d.str(c)
		switch c.tag {
		case classContext | 0:
			if i > 0 {
				return f, errors.New("substrings: initial is not first")
			}
			f.Initial = v
		case classContext | 1:
			if v != "" {
				f.Any = append(f.Any, v)
			}
		case classContext | 2:
			f.Final, final = v, true
		default:
			return f, fmt.Errorf("substrings: unknown component %#02x", c.tag)
		}
	}
	return f, nil
}

// extensible decodes a MatchingRuleAssertion (RFC 4511 §4.5.1.7.7).
func (d *msgDecoder) extensible(r berReader) (store.Filter, error) {
	f := store.Filter{Kind: store.FilterExtensible}
	if r.peek() == classContext|1 {
		t, _ := r.next()
		f.MatchingRule = d.str(t)
	}
	if r.peek() == classContext|2 {
		t, _ := r.next()
		f.Attr = d.str(t)
	}
	if f.MatchingRule == "" && f.Attr == "" {
		return f, errors.New("extensible match: neither matchingRule nor type")
	}
	t, err := r.expect(classContext | 3)
	if err != nil {
		return f, fmt.Errorf("extensible match value: %w", err)
	}
	f.Value = d.str(t)
	if r.peek() == classContext|4 {
		t, _ := r.next()
		if f.DNAttributes, err = berBool(d.buf[t.off:t.end]); err != nil {
			return f, fmt.Errorf("extensible match dnAttributes: %w", err)
		}
	}
	return f, nil
}

// modify decodes RFC 4511 §4.6; operation 3 is increment (RFC 4525).
func (d *msgDecoder) modify(r berReader) (*ModifyRequest, error) {
	op := &ModifyRequest{}
	var err error
	if op.DN, err = d.text(&r); err != nil {
		return op, fmt.Errorf("object: %w", err)
	}
	t, err := r.expect(tagSequence)
	if err != nil {
		return op, fmt.Errorf("changes: %w", err)
	}
	cs := r.in(t)
	if n := cs.count(); n > 0 {
		op.Changes = make([]Change, 0, n)
	}
	for cs.more() {
		t, err := cs.expect(tagSequence)
		if err != nil {
			return op, fmt.Errorf("change: %w", err)
		}
		c := cs.in(t)
		var ch Change
		if ch.Op, err = d.readInt(&c, tagEnumerated, ModAdd, ModIncrement); err != nil {
			return op, fmt.Errorf("change operation: %w", err)
		}
		t, err = c.expect(tagSequence)
		if err != nil {
			return op, fmt.Errorf("change modification: %w", err)
		}
		if ch.Type, ch.Values, err = d.partialAttribute(c.in(t)); err != nil {
			return op, fmt.Errorf("change modification: %w", err)
		}
		op.Changes = append(op.Changes, ch)
	}
	return op, nil
}

// partialAttribute decodes SEQUENCE { type, vals SET OF value }.
func (d *msgDecoder) partialAttribute(r berReader) (string, []string, error) {
	typ, err := d.attr(&r)
	if err != nil {
		return "", nil, err
	}
	t, err := r.expect(tagSet)
	if err != nil {
		return typ, nil, fmt.Errorf("vals: %w", err)
	}
	vs := r.in(t)
	var vals []string
	if n := vs.count(); n > 0 {
		vals = make([]string, 0, n)
	}
	for vs.more() {
		v, err := d.text(&vs)
		if err != nil {
			return typ, vals, fmt.Errorf("value: %w", err)
		}
		vals = append(vals, v)
	}
	return typ, vals, nil
}

// add decodes RFC 4511 §4.7. An attribute with no values is passed on: the
// handler answers it (SIZE(1..MAX) is a semantic check there).
func (d *msgDecoder) add(r berReader) (*AddRequest, error) {
	op := &AddRequest{}
	var err error
	if op.DN, err = d.text(&r); err != nil {
		return op, fmt.Errorf("entry: %w", err)
	}
	t, err := r.expect(tagSequence)
	if err != nil {
		return op, fmt.Errorf("attributes: %w", err)
	}
	as := r.in(t)
	if n := as.count(); n > 0 {
		op.Attributes = make([]Attribute, 0, n)
	}
	for as.more() {
		t, err := as.expect(tagSequence)
		if err != nil {
			return op, fmt.Errorf("attribute: %w", err)
		}
		var a Attribute
		if a.Type, a.Values, err = d.partialAttribute(as.in(t)); err != nil {
			return op, fmt.Errorf("attribute: %w", err)
		}
		op.Attributes = append(op.Attributes, a)
	}
	return op, nil
}

// modifyDN decodes RFC 4511 §4.9.
func (d *msgDecoder) modifyDN(r berReader) (*ModifyDNRequest, error) {
	op := &ModifyDNRequest{}
	var err error
	if op.DN, err = d.text(&r); err != nil {
		return op, fmt.Errorf("entry: %w", err)
	}
	if op.NewRDN, err = d.text(&r); err != nil {
		return op, fmt.Errorf("newrdn: %w", err)
	}
	if op.DeleteOldRDN, err = d.readBool(&r); err != nil {
		return op, fmt.Errorf("deleteoldrdn: %w", err)
	}
	if r.peek() == classContext|0 {
		t, _ := r.next()
		op.NewSuperior, op.HasSuperior = d.str(t), true
	}
	return op, nil
}

// compare decodes RFC 4511 §4.10.
func (d *msgDecoder) compare(r berReader) (*CompareRequest, error) {
	op := &CompareRequest{}
	var err error
	if op.DN, err = d.text(&r); err != nil {
		return op, fmt.Errorf("entry: %w", err)
	}
	t, err := r.expect(tagSequence)
	if err != nil {
		return op, fmt.Errorf("ava: %w", err)
	}
	a := r.in(t)
	if op.Type, err = d.attr(&a); err != nil {
		return op, fmt.Errorf("ava: %w", err)
	}
	if op.Value, err = d.text(&a); err != nil {
		return op, fmt.Errorf("ava assertion value: %w", err)
	}
	return op, nil
}

// extended decodes RFC 4511 §4.12.
func (d *msgDecoder) extended(r berReader) (*ExtendedRequest, error) {
	op := &ExtendedRequest{}
	t, err := r.expect(classContext | 0)
	if err != nil {
		return op, fmt.Errorf("requestName: %w", err)
	}
	op.Name = d.str(t)
	if r.peek() == classContext|1 {
		t, _ := r.next()
		op.Value, op.HasValue = d.bytes(t), true
	}
	return op, nil
}

// controls decodes Controls (RFC 4511 §4.1.11).
func (d *msgDecoder) controls(r berReader) ([]Control, error) {
	cs := make([]Control, 0, r.count())
	for r.more() {
		t, err := r.expect(tagSequence)
		if err != nil {
			return cs, err
		}
		c := r.in(t)
		var ctl Control
		if ctl.OID, err = d.text(&c); err != nil {
			return cs, fmt.Errorf("controlType: %w", err)
		}
		if c.peek() == tagBoolean {
			if ctl.Critical, err = d.readBool(&c); err != nil {
				return cs, fmt.Errorf("control %s criticality: %w", ctl.OID, err)
			}
		}
		if c.peek() == tagOctetString {
			t, _ := c.next()
			ctl.Value, ctl.HasValue = d.bytes(t), true
		}
		cs = append(cs, ctl)
	}
	return cs, nil
}

// The encoder appends BER to a caller's buffer. Constructed elements are
// opened with a one-octet length placeholder and closed once their contents
// are known; a length of 128 or more shifts the contents right, which is a
// memmove of bytes already in cache and keeps every length minimal.

// appendTLV appends a primitive element.
func appendTLV[T string | []byte](b []byte, tag byte, v T) []byte {
	b = append(b, tag)
	b = appendLength(b, len(v))
	return append(b, v...)
}

func appendLength(b []byte, n int) []byte {
	if n < 0x80 {
		return append(b, byte(n))
	}
	k := lengthOctets(n)
	b = append(b, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}

func lengthOctets(n int) int {
	k := 1
	for n >>= 8; n > 0; n >>= 8 {
		k++
	}
	return k
}

// appendInt appends an INTEGER or ENUMERATED in minimal two's complement.
func appendInt(b []byte, tag byte, v int64) []byte {
	n := 1
	for x := v; x > 127 || x < -128; x >>= 8 {
		n++
	}
	b = append(b, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// openTLV starts a constructed element; pass the returned offset to
// closeTLV after appending the contents.
func openTLV(b []byte, tag byte) ([]byte, int) {
	b = append(b, tag, 0)
	return b, len(b)
}

func closeTLV(b []byte, start int) []byte {
	n := len(b) - start
	if n < 0x80 {
		b[start-1] = byte(n)
		return b
	}
	k := lengthOctets(n)
	for range k {
		b = append(b, 0)
	}
	copy(b[start+k:], b[start:start+n])
	b[start-1] = 0x80 | byte(k)
	for i := k - 1; i >= 0; i-- {
		b[start+i] = byte(n)
		n >>= 8
	}
	return b
}

// encodeResponse appends the BER of one LDAPMessage to buf. AppSearchEntry,
// AppExtendedResponse and AppIntermediate have their own shapes; every other
// response is an LDAPResult under its application tag (RFC 4511 §4.1.9).
// Referrals and serverSaslCreds are never sent.
func encodeResponse(buf []byte, resp *Response) []byte {
	b, msg := openTLV(buf, tagSequence)
	b = appendInt(b, tagInteger, resp.MessageID)
	b, op := openTLV(b, classApplication|constructed|byte(resp.AppTag))
	switch resp.AppTag {
	case AppSearchEntry:
		// RFC 4511 §4.5.2: vals is an empty SET when typesOnly was asked.
		b = appendTLV(b, tagOctetString, resp.EntryDN)
		var attrs, pa, vals int
		b, attrs = openTLV(b, tagSequence)
		for i := range resp.Attributes {
			a := &resp.Attributes[i]
			b, pa = openTLV(b, tagSequence)
			b = appendTLV(b, tagOctetString, a.Type)
			b, vals = openTLV(b, tagSet)
			if !resp.TypesOnly {
				for _, v := range a.Values {
					b = appendTLV(b, tagOctetString, v)
				}
			}
			b = closeTLV(b, vals)
			b = closeTLV(b, pa)
		}
		b = closeTLV(b, attrs)
	case AppIntermediate:
		// RFC 4511 §4.13: responseName [0], responseValue [1].
		if resp.ResponseName != "" {
			b = appendTLV(b, classContext|0, resp.ResponseName)
		}
		if resp.HasResponseValue {
			b = appendTLV(b, classContext|1, resp.ResponseValue)
		}
	default:
		b = appendInt(b, tagEnumerated, int64(resp.Result.Code))
		b = appendTLV(b, tagOctetString, resp.Result.MatchedDN)
		b = appendTLV(b, tagOctetString, resp.Result.Diagnostic)
		if resp.AppTag == AppExtendedResponse {
			// RFC 4511 §4.12: responseName [10], responseValue [11].
			if resp.ResponseName != "" {
				b = appendTLV(b, classContext|10, resp.ResponseName)
			}
			if resp.HasResponseValue {
				b = appendTLV(b, classContext|11, resp.ResponseValue)
			}
		}
	}
	b = closeTLV(b, op)
	if len(resp.Controls) > 0 {
		b = appendControls(b, resp.Controls)
	}
	return closeTLV(b, msg)
}

// appendControls appends Controls [0] (RFC 4511 §4.1.11); criticality is
// omitted when FALSE, its DEFAULT, as DER requires.
func appendControls(b []byte, cs []Control) []byte {
	var all, one int
	b, all = openTLV(b, classContext|constructed|0)
	for i := range cs {
		c := &cs[i]
		b, one = openTLV(b, tagSequence)
		b = appendTLV(b, tagOctetString, c.OID)
		if c.Critical {
			b = append(b, tagBoolean, 1, 0xff)
		}
		if c.HasValue {
			b = appendTLV(b, tagOctetString, c.Value)
		}
		b = closeTLV(b, one)
	}
	return closeTLV(b, all)
}

// encodeNoticeOfDisconnection returns the unsolicited notification of
// RFC 4511 §4.4.1: an ExtendedResponse with messageID 0 and responseName
// 1.3.6.1.4.1.1466.20036, sent just before the server closes.
func encodeNoticeOfDisconnection(code int, msg string) []byte {
	return encodeResponse(nil, &Response{
		MessageID:    0,
		AppTag:       AppExtendedResponse,
		Result:       Result{Code: code, Diagnostic: msg},
		ResponseName: oidNoticeOfDisconnection,
	})
}
