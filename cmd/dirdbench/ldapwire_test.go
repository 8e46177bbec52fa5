package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// decodeBER parses b with go-asn1-ber, an implementation independent of
// ours, and fails unless it is exactly one packet.
func decodeBER(t *testing.T, b []byte) *ber.Packet {
	t.Helper()
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		t.Fatalf("go-asn1-ber cannot decode %x: %v", b, err)
	}
	if got := len(p.Bytes()); got != len(b) {
		t.Fatalf("packet is %d bytes of %d", got, len(b))
	}
	return p
}

func berInt(t *testing.T, p *ber.Packet) int64 {
	t.Helper()
	v, err := ber.ParseInt64(p.Data.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAppendBindRequest(t *testing.T) {
	long := strings.Repeat("x", 300) // lengths in long form, 1 and 2 bytes
	for _, tc := range []struct {
		name            string
		id              int32
		uid, suffix, pw string
		wantDN          string
	}{
		{"a user", 1, "user00042", "ou=people,dc=example,dc=com", "Bench-Password-2026", "uid=user00042,ou=people,dc=example,dc=com"},
		{"the administrator, ID 127", 127, "", "cn=admin,dc=example,dc=com", "secret", "cn=admin,dc=example,dc=com"},
		{"ID 128 needs a second byte", 128, "u", "dc=x", "p", "uid=u,dc=x"},
		{"ID 2^31-1", 1<<31 - 1, "u", "dc=x", "", "uid=u,dc=x"},
		{"a long DN and password", 65536, long, "ou=people,dc=example,dc=com", long, "uid=" + long + ",ou=people,dc=example,dc=com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := appendBindRequest([]byte("junk"), tc.id, tc.uid, tc.suffix, tc.pw)
			if !bytes.HasPrefix(b, []byte("junk")) {
				t.Fatal("the buffer's contents were not kept")
			}
			b = b[4:]
			p := decodeBER(t, b)
			if len(p.Children) != 2 {
				t.Fatalf("message has %d children", len(p.Children))
			}
			if got := berInt(t, p.Children[0]); got != int64(tc.id) {
				t.Errorf("message ID %d, want %d", got, tc.id)
			}
			op := p.Children[1]
			if op.ClassType != ber.ClassApplication || op.Tag != 0 || len(op.Children) != 3 {
				t.Fatalf("protocolOp class %d tag %d with %d children, want a BindRequest", op.ClassType, op.Tag, len(op.Children))
			}
			if v := berInt(t, op.Children[0]); v != 3 {
				t.Errorf("version %d", v)
			}
			if dn := op.Children[1].Data.String(); dn != tc.wantDN {
				t.Errorf("DN %q, want %q", dn, tc.wantDN)
			}
			auth := op.Children[2]
			if auth.ClassType != ber.ClassContext || auth.Tag != 0 || auth.Data.String() != tc.pw {
				t.Errorf("authentication [%d] %q, want simple %q", auth.Tag, auth.Data.String(), tc.pw)
			}
			// And our own reader takes what we wrote.
			msg, err := readMessage(bufio.NewReader(bytes.NewReader(b)), new([]byte))
			if err != nil {
				t.Fatal(err)
			}
			id, tag, _, err := parseMessage(msg)
			if err != nil || id != tc.id || tag != opBindRequest {
				t.Errorf("parseMessage: %d %#x %v", id, tag, err)
			}
		})
	}
}

func TestAppendSearch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     searchRequest
		value   string
		present bool
	}{
		{"equality, three attributes", searchRequest{base: "dc=example,dc=com", scope: scopeSubtree, attr: "uid", attrs: []string{"cn", "mail", "uidNumber"}}, "user00042", false},
		{"RootDSE", searchRequest{base: "", scope: scopeBase, attr: "objectClass"}, "", true},
		{"a long base", searchRequest{base: strings.Repeat("ou=x,", 60) + "dc=com", scope: scopeSubtree, attr: "uid", attrs: []string{"cn"}}, strings.Repeat("v", 200), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.req.appendSearch(nil, 300, tc.value, tc.present)
			p := decodeBER(t, b)
			if got := berInt(t, p.Children[0]); got != 300 {
				t.Errorf("message ID %d", got)
			}
			op := p.Children[1]
			if op.ClassType != ber.ClassApplication || op.Tag != 3 || len(op.Children) != 8 {
				t.Fatalf("protocolOp tag %d with %d children, want a SearchRequest", op.Tag, len(op.Children))
			}
			if got := op.Children[0].Data.String(); got != tc.req.base {
				t.Errorf("base %q", got)
			}
			for i, want := range []int64{int64(tc.req.scope), 0, 0, 0} { // scope, deref, size, time
				if got := berInt(t, op.Children[1+i]); got != want {
					t.Errorf("field %d is %d, want %d", 1+i, got, want)
				}
			}
			if op.Children[5].Tag != ber.TagBoolean || op.Children[5].Data.Bytes()[0] != 0 {
				t.Error("typesOnly is not FALSE")
			}
			f := op.Children[6]
			switch {
			case tc.present:
				if f.ClassType != ber.ClassContext || f.Tag != 7 || f.Data.String() != tc.req.attr {
					t.Errorf("filter [%d] %q, want present %q", f.Tag, f.Data.String(), tc.req.attr)
				}
			default:
				if f.ClassType != ber.ClassContext || f.Tag != 3 || len(f.Children) != 2 ||
					f.Children[0].Data.String() != tc.req.attr || f.Children[1].Data.String() != tc.value {
					t.Errorf("filter is not (%s=%s)", tc.req.attr, tc.value)
				}
			}
			var attrs []string
			for _, a := range op.Children[7].Children {
				attrs = append(attrs, a.Data.String())
			}
			if strings.Join(attrs, " ") != strings.Join(tc.req.attrs, " ") {
				t.Errorf("attributes %q, want %q", attrs, tc.req.attrs)
			}
		})
	}
}

// capturedDird is what dird 2026-11 answered on one connection to a
// bind as the administrator (ID 1), a search for user00042 (ID 2) and one
// for nobody (ID 3): dird answers pipelined requests in any order.
const capturedDird = "300c02010161070a010004000400" +
	"300c02010365070a010004000400" +
	"308182020102647d04297569643d7573657230303034322c6f753d70656f706c652c64633d6578616d706c652c64633d636f6d" +
	"305030160402636e3110040e4c6f616420757365723030303432301f04046d61696c31170415757365723030303432406578616d706c652e636f6d301504097569644e756d62657231080406313030303432" +
	"300c02010265070a010004000400" +
	// An anonymous search refused (ID 7), with a diagnosticMessage.
	"303e02010765390a013204000432616e6f6e796d6f7573207365617263682069732064697361626c656420286c6461702e616e6f6e796d6f75735f7265616429"

func TestParseCaptured(t *testing.T) {
	raw, err := hex.DecodeString(capturedDird)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(bytes.NewReader(raw), 16)
	buf := make([]byte, 4) // too small: readMessage must grow it
	type msg struct {
		id   int32
		op   byte
		code int32
		diag string
	}
	var got []msg
	for {
		m, err := readMessage(r, &buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		id, op, body, err := parseMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		x := msg{id: id, op: op, code: -1}
		if op != opSearchEntry {
			code, diag, err := parseResult(body)
			if err != nil {
				t.Fatal(err)
			}
			x.code, x.diag = code, string(diag)
		}
		got = append(got, x)
	}
	want := []msg{
		{1, opBindResponse, 0, ""},
		{3, opSearchDone, 0, ""},
		{2, opSearchEntry, -1, ""},
		{2, opSearchDone, 0, ""},
		{7, opSearchDone, 50, "anonymous search is disabled (ldap.anonymous_read)"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestMalformed feeds broken responses: each must be an error, never a
// panic or a hang.
func TestMalformed(t *testing.T) {
	good, _ := hex.DecodeString("300c02010265070a010004000400")
	cases := map[string][]byte{
		"empty":                  {},
		"tag only":               {0x30},
		"not a SEQUENCE":         {0x31, 0x03, 0x02, 0x01, 0x01},
		"indefinite length":      {0x30, 0x80, 0x00, 0x00},
		"length of 5 bytes":      {0x30, 0x85, 1, 0, 0, 0, 0},
		"length past the end":    {0x30, 0x0e, 0x02, 0x01},
		"huge length":            {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"no message ID":          {0x30, 0x03, 0x04, 0x01, 0x41},
		"empty message ID":       {0x30, 0x04, 0x02, 0x00, 0x65, 0x00},
		"message ID of 5 bytes":  {0x30, 0x09, 0x02, 0x05, 1, 2, 3, 4, 5, 0x65, 0x00},
		"no protocolOp":          {0x30, 0x03, 0x02, 0x01, 0x01},
		"protocolOp overruns":    {0x30, 0x05, 0x02, 0x01, 0x01, 0x65, 0x09},
		"inner long form broken": {0x30, 0x06, 0x02, 0x01, 0x01, 0x65, 0x82, 0x01},
	}
	for i := 1; i < len(good); i++ {
		cases["captured cut at "+string(rune('0'+i/10))+string(rune('0'+i%10))] = good[:i]
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			if err := parseAll(b); err == nil {
				t.Errorf("%x parsed without error", b)
			}
		})
	}
	// A result with no resultCode, or a resultCode of the wrong type.
	for _, body := range [][]byte{{}, {0x04, 0x00}, {0x0a, 0x00}, {0x0a, 0x05, 1, 2, 3, 4, 5}} {
		if _, _, err := parseResult(body); err == nil {
			t.Errorf("parseResult(%x) gave no error", body)
		}
	}
}

// parseAll reads one message and parses it as a result.
func parseAll(b []byte) error {
	m, err := readMessage(bufio.NewReader(bytes.NewReader(b)), new([]byte))
	if err != nil {
		return err
	}
	_, op, body, err := parseMessage(m)
	if err != nil {
		return err
	}
	if op != opSearchEntry {
		_, _, err = parseResult(body)
	}
	return err
}

func FuzzParse(f *testing.F) {
	raw, _ := hex.DecodeString(capturedDird)
	f.Add(raw)
	f.Add([]byte{0x30, 0x84, 0, 0, 0, 3, 2, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		var buf []byte
		for range 10 {
			m, err := readMessage(r, &buf)
			if err != nil {
				return
			}
			_, _, body, err := parseMessage(m)
			if err == nil {
				parseResult(body)
			}
		}
	})
}

func TestNoAllocations(t *testing.T) {
	raw, _ := hex.DecodeString(capturedDird)
	s := searchRequest{base: "dc=example,dc=com", scope: scopeSubtree, attr: "uid", attrs: []string{"cn", "mail", "uidNumber"}}
	wbuf := make([]byte, 0, 512)
	rbuf := make([]byte, 512)
	rd := bytes.NewReader(raw)
	br := bufio.NewReader(rd)
	allocs := testing.AllocsPerRun(100, func() {
		wbuf = s.appendSearch(wbuf[:0], 2, "user00042", false)
		wbuf = appendBindRequest(wbuf[:0], 3, "user00042", "ou=people,dc=example,dc=com", "Bench-Password-2026")
		rd.Reset(raw)
		br.Reset(rd)
		for {
			m, err := readMessage(br, &rbuf)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					panic(err)
				}
				return
			}
			if _, op, body, _ := parseMessage(m); op != opSearchEntry {
				parseResult(body)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per request and response, want 0", allocs)
	}
}
