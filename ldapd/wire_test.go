package ldapd

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/dird/dird/store"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite ldapd/testdata/fuzz seed corpora")

// hx turns "30 05 02 01 01" into bytes.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

func decodeOne(b []byte, maxSize int) (*Request, error) {
	return readRequest(bufio.NewReader(bytes.NewReader(b)), maxSize)
}

// envelope builds an LDAPMessage the way go-ldap does (request.go).
func envelope(id int64, op *ber.Packet, controls ...ldap.Control) []byte {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "LDAP Request")
	p.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "MessageID"))
	p.AppendChild(op)
	if len(controls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "Controls")
		for _, c := range controls {
			cs.AppendChild(c.Encode())
		}
		p.AppendChild(cs)
	}
	return p.Bytes()
}

func appOp(tag ber.Tag, children ...*ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "op")
	for _, c := range children {
		p.AppendChild(c)
	}
	return p
}

func octets(s string) *ber.Packet {
	return ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, s, "")
}

// searchMsg wraps filter (BER) in a SearchRequest, built with our encoder.
func searchMsg(id int64, filter []byte) []byte {
	b, m := openTLV(nil, tagSequence)
	b = appendInt(b, tagInteger, id)
	b, op := openTLV(b, 0x63)
	b = appendTLV(b, tagOctetString, "dc=example,dc=org")
	b = appendInt(b, tagEnumerated, ScopeSubtree)
	b = appendInt(b, tagEnumerated, 0)
	b = appendInt(b, tagInteger, 0)
	b = appendInt(b, tagInteger, 0)
	b = append(b, tagBoolean, 1, 0)
	b = append(b, filter...)
	b = append(b, tagSequence, 0)
	b = closeTLV(b, op)
	return closeTLV(b, m)
}

// transcript drives readRequest and encodeResponse with the real go-ldap
// client over an in-memory connection: request bytes in, reply bytes out.
type transcript struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	done chan error
}

// startClient runs client in its own goroutine against the test, which
// plays the server with read and write.
func startClient(t *testing.T, client func(c *ldap.Conn) error) *transcript {
	t.Helper()
	srv, cli := net.Pipe()
	c := ldap.NewConn(cli, false)
	c.Start()
	tr := &transcript{t: t, nc: srv, br: bufio.NewReader(srv), done: make(chan error, 1)}
	go func() { tr.done <- client(c) }()
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	return tr
}

func (tr *transcript) read() *Request {
	tr.t.Helper()
	tr.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	req, err := readRequest(tr.br, 1<<20)
	if err != nil {
		tr.t.Fatalf("readRequest: %v", err)
	}
	return req
}

func (tr *transcript) write(resps ...*Response) {
	tr.t.Helper()
	var b []byte
	for _, r := range resps {
		b = encodeResponse(b, r)
	}
	tr.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := tr.nc.Write(b); err != nil {
		tr.t.Fatalf("writing response: %v", err)
	}
}

// wait returns the client's error.
func (tr *transcript) wait() error {
	tr.t.Helper()
	select {
	case err := <-tr.done:
		return err
	case <-time.After(5 * time.Second):
		tr.t.Fatal("client did not finish")
		return nil
	}
}

func wantOp[T any](t *testing.T, req *Request) T {
	t.Helper()
	op, ok := req.Op.(T)
	if !ok {
		t.Fatalf("Op is %T, want %T", req.Op, *new(T))
	}
	return op
}

func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestWireTranscriptBind(t *testing.T) {
	t.Run("simple bind succeeds", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error { return c.Bind("cn=admin,dc=example,dc=org", "s3cret") })
		req := tr.read()
		checkEqual(t, "bind", wantOp[*BindRequest](t, req),
			&BindRequest{Version: 3, Name: "cn=admin,dc=example,dc=org", Simple: true, Password: []byte("s3cret")})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppBindResponse})
		if err := tr.wait(); err != nil {
			t.Fatalf("Bind: %v", err)
		}
	})
	t.Run("failed bind carries code and text", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error { return c.Bind("uid=jo,dc=example,dc=org", "wrong") })
		req := tr.read()
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppBindResponse,
			Result: Result{Code: 49, Diagnostic: "invalid credentials"}})
		err := tr.wait()
		var le *ldap.Error
		if !errors.As(err, &le) || le.ResultCode != 49 || le.Err.Error() != "invalid credentials" {
			t.Fatalf("Bind error = %v, want code 49", err)
		}
	})
	t.Run("SASL EXTERNAL", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error { return c.ExternalBind() })
		req := tr.read()
		checkEqual(t, "bind", wantOp[*BindRequest](t, req),
			&BindRequest{Version: 3, Mechanism: "EXTERNAL", Credentials: []byte{}})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppBindResponse})
		if err := tr.wait(); err != nil {
			t.Fatalf("ExternalBind: %v", err)
		}
	})
	t.Run("unbind", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error { return c.Unbind() })
		wantOp[*UnbindRequest](t, tr.read())
		if err := tr.wait(); err != nil {
			t.Fatalf("Unbind: %v", err)
		}
	})
}

func TestWireTranscriptSearch(t *testing.T) {
	long := strings.Repeat("x", 70000) // three-octet lengths all the way up
	t.Run("entries, controls and a paging cookie", func(t *testing.T) {
		var res *ldap.SearchResult
		tr := startClient(t, func(c *ldap.Conn) (err error) {
			res, err = c.Search(ldap.NewSearchRequest("ou=People,dc=example,dc=org",
				ldap.ScopeWholeSubtree, ldap.DerefAlways, 10, 5, false,
				"(&(objectClass=person)(uid=jo*))", []string{"cn", "mail", "+"},
				[]ldap.Control{ldap.NewControlPaging(50), ldap.NewControlManageDsaIT(true)}))
			return err
		})
		req := tr.read()
		op := wantOp[*SearchRequest](t, req)
		checkEqual(t, "search", op, &SearchRequest{
			BaseDN: "ou=People,dc=example,dc=org", Scope: ScopeSubtree, DerefAliases: 3,
			SizeLimit: 10, TimeLimit: 5,
			Filter: store.Filter{Kind: store.FilterAnd, Children: []store.Filter{
				{Kind: store.FilterEquality, Attr: "objectClass", Value: "person"},
				{Kind: store.FilterSubstrings, Attr: "uid", Initial: "jo"},
			}},
			Attributes: []string{"cn", "mail", "+"},
		})
		if len(req.Controls) != 2 {
			t.Fatalf("controls = %+v", req.Controls)
		}
		if c := req.Controls[0]; c.OID != oidPagedResults || c.Critical || !c.HasValue {
			t.Errorf("paging control = %+v", c)
		}
		if size, cookie, err := decodePagedResults(req.Controls[0].Value); err != nil || size != 50 || len(cookie) != 0 {
			t.Errorf("decodePagedResults = %d, %q, %v", size, cookie, err)
		}
		checkEqual(t, "manageDsaIT", req.Controls[1], Control{OID: oidManageDsaIT, Critical: true})

		tr.write(
			&Response{MessageID: req.MessageID, AppTag: AppSearchEntry, EntryDN: "uid=jo,ou=People,dc=example,dc=org",
				Attributes: []Attribute{{Type: "cn", Values: []string{"Jo", "Joanna"}}, {Type: "mail", Values: []string{"jo@example.org"}}}},
			&Response{MessageID: req.MessageID, AppTag: AppSearchEntry, EntryDN: "uid=joe,ou=People,dc=example,dc=org",
				Attributes: []Attribute{{Type: "cn", Values: []string{long}}, {Type: "mail"}}},
			&Response{MessageID: req.MessageID, AppTag: AppSearchDone, Controls: []Control{
				{OID: oidPagedResults, Value: encodePagedResults(0, nil), HasValue: true}}},
		)
		if err := tr.wait(); err != nil {
			t.Fatalf("Search: %v", err)
		}
		if len(res.Entries) != 2 {
			t.Fatalf("got %d entries", len(res.Entries))
		}
		e := res.Entries[0]
		if e.DN != "uid=jo,ou=People,dc=example,dc=org" || !reflect.DeepEqual(e.GetAttributeValues("cn"), []string{"Jo", "Joanna"}) ||
			e.GetAttributeValue("mail") != "jo@example.org" {
			t.Errorf("entry 0 = %+v", e)
		}
		if got := res.Entries[1].GetAttributeValue("cn"); got != long {
			t.Errorf("entry 1 cn has %d bytes, want %d", len(got), len(long))
		}
		pc, ok := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if !ok || len(pc.Cookie) != 0 {
			t.Errorf("paging response control = %v", res.Controls)
		}
	})
	t.Run("paged search follows the cookie", func(t *testing.T) {
		var res *ldap.SearchResult
		tr := startClient(t, func(c *ldap.Conn) (err error) {
			res, err = c.SearchWithPaging(ldap.NewSearchRequest("dc=example,dc=org", ldap.ScopeSingleLevel,
				ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil), 1)
			return err
		})
		for i, cookie := range []string{"", "page2"} {
			req := tr.read()
			_, got, err := decodePagedResults(req.Controls[0].Value)
			if err != nil || string(got) != cookie {
				t.Fatalf("request %d cookie = %q, %v; want %q", i, got, err, cookie)
			}
			next := []byte("page2")
			if i == 1 {
				next = nil
			}
			tr.write(
				&Response{MessageID: req.MessageID, AppTag: AppSearchEntry, EntryDN: fmt.Sprintf("cn=e%d,dc=example,dc=org", i)},
				&Response{MessageID: req.MessageID, AppTag: AppSearchDone, Controls: []Control{
					{OID: oidPagedResults, Value: encodePagedResults(2, next), HasValue: true}}},
			)
		}
		if err := tr.wait(); err != nil {
			t.Fatalf("SearchWithPaging: %v", err)
		}
		if len(res.Entries) != 2 || res.Entries[1].DN != "cn=e1,dc=example,dc=org" {
			t.Errorf("entries = %+v", res.Entries)
		}
	})
	t.Run("types only sends empty value sets", func(t *testing.T) {
		var res *ldap.SearchResult
		tr := startClient(t, func(c *ldap.Conn) (err error) {
			res, err = c.Search(ldap.NewSearchRequest("dc=example,dc=org", ldap.ScopeBaseObject,
				ldap.NeverDerefAliases, 0, 0, true, "(objectClass=*)", []string{"1.1"}, nil))
			return err
		})
		req := tr.read()
		if op := wantOp[*SearchRequest](t, req); !op.TypesOnly || op.Scope != ScopeBase {
			t.Errorf("search = %+v", op)
		}
		tr.write(
			&Response{MessageID: req.MessageID, AppTag: AppSearchEntry, EntryDN: "dc=example,dc=org", TypesOnly: true,
				Attributes: []Attribute{{Type: "dc", Values: []string{"example"}}}},
			&Response{MessageID: req.MessageID, AppTag: AppSearchDone},
		)
		if err := tr.wait(); err != nil {
			t.Fatalf("Search: %v", err)
		}
		a := res.Entries[0].Attributes
		if len(a) != 1 || a[0].Name != "dc" || len(a[0].Values) != 0 {
			t.Errorf("attributes = %+v", a)
		}
	})
	t.Run("no such object carries matchedDN", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error {
			_, err := c.Search(ldap.NewSearchRequest("ou=gone,dc=example,dc=org", ldap.ScopeBaseObject,
				ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
			return err
		})
		req := tr.read()
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppSearchDone,
			Result: Result{Code: 32, MatchedDN: "dc=example,dc=org", Diagnostic: "no such object"}})
		var le *ldap.Error
		if err := tr.wait(); !errors.As(err, &le) || le.ResultCode != 32 || le.MatchedDN != "dc=example,dc=org" {
			t.Fatalf("Search error = %#v", err)
		}
	})
}

func TestWireTranscriptUpdates(t *testing.T) {
	const dn = "uid=jo,ou=People,dc=example,dc=org"
	t.Run("modify", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error {
			m := ldap.NewModifyRequest(dn, nil)
			m.Add("mail", []string{"a@example.org", "b@example.org"})
			m.Delete("telephoneNumber", nil)
			m.Replace("cn", []string{"Jo"})
			m.Increment("uidNumber", "1")
			return c.Modify(m)
		})
		req := tr.read()
		checkEqual(t, "modify", wantOp[*ModifyRequest](t, req), &ModifyRequest{DN: dn, Changes: []Change{
			{Op: ModAdd, Type: "mail", Values: []string{"a@example.org", "b@example.org"}},
			{Op: ModDelete, Type: "telephoneNumber"},
			{Op: ModReplace, Type: "cn", Values: []string{"Jo"}},
			{Op: ModIncrement, Type: "uidNumber", Values: []string{"1"}},
		}})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppModifyResponse,
			Result:   Result{Code: 19, Diagnostic: "Password fails quality checking policy"},
			Controls: []Control{{OID: oidPasswordPolicy, Value: encodePPolicyResponse(ppWarning{}, ppInsufficientPasswordQuality), HasValue: true}}})
		var le *ldap.Error
		if err := tr.wait(); !errors.As(err, &le) || le.ResultCode != 19 {
			t.Fatalf("Modify error = %v", err)
		}
	})
	t.Run("add", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error {
			a := ldap.NewAddRequest(dn, []ldap.Control{ldap.NewControlString("1.2.3.4", true, "v")})
			a.Attribute("objectClass", []string{"top", "inetOrgPerson"})
			a.Attribute("cn", []string{"Jo"})
			return c.Add(a)
		})
		req := tr.read()
		checkEqual(t, "add", wantOp[*AddRequest](t, req), &AddRequest{DN: dn, Attributes: []Attribute{
			{Type: "objectClass", Values: []string{"top", "inetOrgPerson"}},
			{Type: "cn", Values: []string{"Jo"}},
		}})
		checkEqual(t, "controls", req.Controls, []Control{{OID: "1.2.3.4", Critical: true, Value: []byte("v"), HasValue: true}})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppAddResponse})
		if err := tr.wait(); err != nil {
			t.Fatalf("Add: %v", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error { return c.Del(ldap.NewDelRequest(dn, nil)) })
		req := tr.read()
		checkEqual(t, "delete", wantOp[*DelRequest](t, req), &DelRequest{DN: dn})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppDelResponse, Result: Result{Code: 66}})
		if err := tr.wait(); !ldap.IsErrorWithCode(err, 66) {
			t.Fatalf("Del error = %v, want 66", err)
		}
	})
	t.Run("modify DN with new superior", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error {
			return c.ModifyDN(ldap.NewModifyDNRequest(dn, "uid=joanna", true, "ou=Staff,dc=example,dc=org"))
		})
		req := tr.read()
		checkEqual(t, "modify DN", wantOp[*ModifyDNRequest](t, req), &ModifyDNRequest{DN: dn, NewRDN: "uid=joanna",
			DeleteOldRDN: true, NewSuperior: "ou=Staff,dc=example,dc=org", HasSuperior: true})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppModifyDNResponse})
		if err := tr.wait(); err != nil {
			t.Fatalf("ModifyDN: %v", err)
		}
	})
	t.Run("modify DN in place", func(t *testing.T) {
		tr := startClient(t, func(c *ldap.Conn) error {
			return c.ModifyDN(ldap.NewModifyDNRequest(dn, "uid=joanna", false, ""))
		})
		req := tr.read()
		checkEqual(t, "modify DN", wantOp[*ModifyDNRequest](t, req), &ModifyDNRequest{DN: dn, NewRDN: "uid=joanna"})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppModifyDNResponse})
		if err := tr.wait(); err != nil {
			t.Fatalf("ModifyDN: %v", err)
		}
	})
	for _, tc := range []struct {
		code int
		want bool
	}{{6, true}, {5, false}} {
		t.Run(fmt.Sprintf("compare answers %v", tc.want), func(t *testing.T) {
			var got bool
			tr := startClient(t, func(c *ldap.Conn) (err error) {
				got, err = c.Compare(dn, "cn", "Jo")
				return err
			})
			req := tr.read()
			checkEqual(t, "compare", wantOp[*CompareRequest](t, req), &CompareRequest{DN: dn, Type: "cn", Value: "Jo"})
			tr.write(&Response{MessageID: req.MessageID, AppTag: AppCompareResponse, Result: Result{Code: tc.code}})
			if err := tr.wait(); err != nil || got != tc.want {
				t.Fatalf("Compare = %v, %v", got, err)
			}
		})
	}
}

func TestWireTranscriptExtended(t *testing.T) {
	t.Run("password modify returns the generated password", func(t *testing.T) {
		var res *ldap.PasswordModifyResult
		tr := startClient(t, func(c *ldap.Conn) (err error) {
			res, err = c.PasswordModify(ldap.NewPasswordModifyRequest("uid=jo,dc=example,dc=org", "old", ""))
			return err
		})
		req := tr.read()
		op := wantOp[*ExtendedRequest](t, req)
		if op.Name != oidPasswordModify || !op.HasValue {
			t.Fatalf("extended = %+v", op)
		}
		id, oldPW, newPW, hasID, hasOld, hasNew, err := decodePasswdModify(op.Value)
		if err != nil || string(id) != "uid=jo,dc=example,dc=org" || string(oldPW) != "old" || newPW != nil || !hasID || !hasOld || hasNew {
			t.Fatalf("decodePasswdModify = %q %q %q %v %v %v %v", id, oldPW, newPW, hasID, hasOld, hasNew, err)
		}
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse,
			ResponseValue: encodePasswdModifyResponse([]byte("Gen-3rated")), HasResponseValue: true})
		if err := tr.wait(); err != nil || res.GeneratedPassword != "Gen-3rated" {
			t.Fatalf("PasswordModify = %+v, %v", res, err)
		}
	})
	t.Run("who am I has no request value", func(t *testing.T) {
		var res *ldap.WhoAmIResult
		tr := startClient(t, func(c *ldap.Conn) (err error) {
			res, err = c.WhoAmI(nil)
			return err
		})
		req := tr.read()
		checkEqual(t, "extended", wantOp[*ExtendedRequest](t, req), &ExtendedRequest{Name: oidWhoAmI})
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse,
			ResponseValue: []byte("dn:uid=jo,dc=example,dc=org"), HasResponseValue: true})
		if err := tr.wait(); err != nil || res.AuthzID != "dn:uid=jo,dc=example,dc=org" {
			t.Fatalf("WhoAmI = %+v, %v", res, err)
		}
	})
	t.Run("extended response with a name", func(t *testing.T) {
		var res *ldap.ExtendedResponse
		tr := startClient(t, func(c *ldap.Conn) (err error) {
			res, err = c.Extended(ldap.NewExtendedRequest("1.3.6.1.4.1.99.1", octets("ping")))
			return err
		})
		req := tr.read()
		op := wantOp[*ExtendedRequest](t, req)
		if op.Name != "1.3.6.1.4.1.99.1" || !bytes.Equal(op.Value, octets("ping").Bytes()) {
			t.Fatalf("extended = %+v", op)
		}
		tr.write(&Response{MessageID: req.MessageID, AppTag: AppExtendedResponse, ResponseName: "1.3.6.1.4.1.99.1"})
		if err := tr.wait(); err != nil || res.Name != "1.3.6.1.4.1.99.1" || res.Value != nil {
			t.Fatalf("Extended = %+v, %v", res, err)
		}
	})
}

// Requests go-ldap's client cannot send, built the way it builds packets.
func TestReadRequestHandBuilt(t *testing.T) {
	sasl := func(creds ...string) *ber.Packet {
		p := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "sasl")
		p.AppendChild(octets("DIGEST-MD5"))
		for _, c := range creds {
			p.AppendChild(octets(c))
		}
		return p
	}
	extended := func(value ...string) *ber.Packet {
		p := appOp(23, ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, oidPasswordModify, ""))
		for _, v := range value {
			p.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 1, v, ""))
		}
		return p
	}
	tests := []struct {
		name string
		in   []byte
		want *Request
	}{
		{"SASL without credentials", envelope(1, appOp(0, ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, ""), octets(""), sasl())),
			&Request{MessageID: 1, Op: &BindRequest{Version: 3, Mechanism: "DIGEST-MD5"}}},
		{"SASL with credentials", envelope(2, appOp(0, ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, ""), octets(""), sasl("resp"))),
			&Request{MessageID: 2, Op: &BindRequest{Version: 3, Mechanism: "DIGEST-MD5", Credentials: []byte("resp")}}},
		{"abandon", envelope(3, ber.NewInteger(ber.ClassApplication, ber.TypePrimitive, 16, 2, "")),
			&Request{MessageID: 3, Op: &AbandonRequest{MessageID: 2}}},
		{"extended without value (ldappasswd, nothing given)", envelope(4, extended()),
			&Request{MessageID: 4, Op: &ExtendedRequest{Name: oidPasswordModify}}},
		{"extended with empty value", envelope(5, extended("")),
			&Request{MessageID: 5, Op: &ExtendedRequest{Name: oidPasswordModify, Value: []byte{}, HasValue: true}}},
		{"unknown operation", envelope(6, appOp(24, octets("x"))),
			&Request{MessageID: 6, Op: &UnknownRequest{Tag: 24}}},
		{"largest message ID", envelope(2147483647, ber.Encode(ber.ClassApplication, ber.TypePrimitive, 2, nil, "")),
			&Request{MessageID: 2147483647, Op: &UnbindRequest{}}},
		{"four-octet lengths as AD sends them", hx("30 84 00 00 00 0c 02 01 07 4a 84 00 00 00 03 64 63 3d"),
			&Request{MessageID: 7, Op: &DelRequest{DN: "dc="}}},
		{"trailing unknown component ignored", hx("30 08 02 01 08 4a 01 78 81 00"),
			&Request{MessageID: 8, Op: &DelRequest{DN: "x"}}},
		{"control with criticality FALSE written out and any true octet",
			hx("30 1a 02 01 09 4a 01 78 a0 12 30 07 04 02 31 2e 01 01 00 30 07 04 02 32 2e 01 01 01"),
			&Request{MessageID: 9, Op: &DelRequest{DN: "x"}, Controls: []Control{{OID: "1."}, {OID: "2.", Critical: true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeOne(tt.in, 1<<10)
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			checkEqual(t, "request", got, tt.want)
		})
	}
}

// The BER filters go-ldap compiles decode to what store.ParseFilter makes of
// the same string, and print back as go-ldap prints them.
func TestWireFilterMatchesRFC4515(t *testing.T) {
	for _, s := range []string{
		"(uid=jdoe)",
		"(&(objectClass=person)(|(uid=jo*)(!(mail=*))))",
		"(cn=a*b*c*d)",
		"(cn=*son)",
		"(cn=*o*)",
		`(cn=\28x\29\2a\5c)`,
		"(age>=21)",
		"(age<=65)",
		"(cn~=jon)",
		"(cn:dn:2.4.6.8.10:=Dino)",
		"(o:dn:=Ace Industry)",
		"(cn:caseExactMatch:=Fred)",
		"(:1.2.3:=x)",
		"(:dn:2.4.6.8.10:=Dino)",
	} {
		t.Run(s, func(t *testing.T) {
			p, err := ldap.CompileFilter(s)
			if err != nil {
				t.Fatalf("CompileFilter: %v", err)
			}
			req, err := decodeOne(searchMsg(1, p.Bytes()), 1<<10)
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			got := wantOp[*SearchRequest](t, req).Filter
			want, err := store.ParseFilter(s)
			if err != nil {
				t.Fatalf("ParseFilter: %v", err)
			}
			checkEqual(t, "filter", got, want)
			back, err := ldap.DecompileFilter(p)
			if err != nil {
				t.Fatalf("DecompileFilter: %v", err)
			}
			if got.String() != back {
				t.Errorf("String() = %q, go-ldap prints %q", got.String(), back)
			}
		})
	}
}

// nestedNot returns depth NOT filters around (a=*), built inside out
// without quadratic copying.
func nestedNot(depth int) []byte {
	sizes := make([]int, depth+1)
	sizes[0] = 3
	for i := 1; i <= depth; i++ {
		sizes[i] = 1 + len(appendLength(nil, sizes[i-1])) + sizes[i-1]
	}
	b := make([]byte, 0, sizes[depth])
	for i := depth; i >= 1; i-- {
		b = append(b, 0xa2)
		b = appendLength(b, sizes[i-1])
	}
	return append(b, 0x87, 0x01, 'a')
}

func wideOr(n int) []byte {
	b, o := openTLV(nil, 0xa1)
	for range n {
		b = append(b, 0x87, 0x01, 'a')
	}
	return closeTLV(b, o)
}

func TestReadRequestMalformed(t *testing.T) {
	const (
		wantEOF        = "EOF"
		wantUnexpected = "unexpected EOF"
		wantProtocol   = "protocol"
		wantBad        = "bad request"
	)
	search := func(filter string) []byte { return searchMsg(5, hx(filter)) }
	fixLen := func(b []byte) []byte { b[1] = byte(len(b) - 2); return b }
	tests := []struct {
		name    string
		in      []byte
		maxSize int
		want    string
		reqTag  int // for wantBad
	}{
		{"empty stream", nil, 1024, wantEOF, 0},
		{"header cut", hx("30"), 1024, wantUnexpected, 0},
		{"long length cut", hx("30 82 01"), 1024, wantUnexpected, 0},
		{"body cut", hx("30 05 02 01"), 1024, wantUnexpected, 0},
		{"large body cut", append(hx("30 83 01 00 00"), make([]byte, 100)...), 1 << 20, wantUnexpected, 0},
		{"not a SEQUENCE", hx("31 03 02 01 01"), 1024, wantProtocol, 0},
		{"indefinite length", hx("30 80 02 01 01 42 00 00 00"), 1024, wantProtocol, 0},
		{"reserved length octet", hx("30 ff"), 1024, wantProtocol, 0},
		{"length over maxSize", hx("30 84 7f ff ff ff"), 1024, wantProtocol, 0},
		{"short length over maxSize", hx("30 7f"), 16, wantProtocol, 0},
		{"length 2^64-1", hx("30 88 ff ff ff ff ff ff ff ff"), 1024, wantProtocol, 0},
		{"five-octet length", hx("30 85 00 00 00 00 05 02 01 01 42 00"), 1024, wantProtocol, 0},
		{"empty message", hx("30 00"), 1024, wantProtocol, 0},
		{"messageID not an INTEGER", hx("30 05 04 01 01 42 00"), 1024, wantProtocol, 0},
		{"negative messageID", hx("30 05 02 01 ff 42 00"), 1024, wantProtocol, 0},
		{"messageID 2^31", hx("30 09 02 05 00 80 00 00 00 42 00"), 1024, wantProtocol, 0},
		{"nine-octet messageID", hx("30 0d 02 09 00 00 00 00 00 00 00 00 01 42 00"), 1024, wantProtocol, 0},
		{"empty messageID", hx("30 04 02 00 42 00"), 1024, wantProtocol, 0},
		{"no protocolOp", hx("30 03 02 01 01"), 1024, wantProtocol, 0},
		{"protocolOp not an application tag", hx("30 05 02 01 01 04 00"), 1024, wantProtocol, 0},
		{"protocolOp length past the message", hx("30 05 02 01 01 63 05"), 1024, wantProtocol, 0},
		{"multi-octet tag", hx("30 06 02 01 01 7f 01 00"), 1024, wantProtocol, 0},
		{"bind version 0", fixLen(hx("30 00 02 01 05 60 07 02 01 00 04 00 80 00")), 1024, wantBad, appBindRequest},
		{"bind without authentication", fixLen(hx("30 00 02 01 05 60 05 02 01 03 04 00")), 1024, wantBad, appBindRequest},
		{"bind with reserved choice [1]", fixLen(hx("30 00 02 01 05 60 07 02 01 03 04 00 81 00")), 1024, wantBad, appBindRequest},
		{"bind as primitive", fixLen(hx("30 00 02 01 05 40 00")), 1024, wantBad, appBindRequest},
		{"delete as constructed", fixLen(hx("30 00 02 01 05 6a 00")), 1024, wantBad, appDelRequest},
		{"abandon of a negative ID", fixLen(hx("30 00 02 01 05 50 01 ff")), 1024, wantBad, appAbandonRequest},
		{"search scope 4", fixLen(hx("30 00 02 01 05 63 16 04 00 0a 01 04 0a 01 00 02 01 00 02 01 00 01 01 00 87 01 61 30 00")), 1024, wantBad, appSearchRequest},
		{"search negative size limit", fixLen(hx("30 00 02 01 05 63 16 04 00 0a 01 00 0a 01 00 02 01 ff 02 01 00 01 01 00 87 01 61 30 00")), 1024, wantBad, appSearchRequest},
		{"search without attributes", fixLen(hx("30 00 02 01 05 63 14 04 00 0a 01 00 0a 01 00 02 01 00 02 01 00 01 01 00 87 01 61")), 1024, wantBad, appSearchRequest},
		{"search two-octet boolean", fixLen(hx("30 00 02 01 05 63 17 04 00 0a 01 00 0a 01 00 02 01 00 02 01 00 01 02 00 00 87 01 61 30 00")), 1024, wantBad, appSearchRequest},
		{"unknown filter choice", search("8a 01 61"), 1024, wantBad, appSearchRequest},
		{"present without attribute", search("87 00"), 1024, wantBad, appSearchRequest},
		{"equality without value", search("a3 03 04 01 61"), 1024, wantBad, appSearchRequest},
		{"equality with empty attribute", search("a3 04 04 00 04 00"), 1024, wantBad, appSearchRequest},
		{"not with two filters", search("a2 06 87 01 61 87 01 62"), 1024, wantBad, appSearchRequest},
		{"empty not", search("a2 00"), 1024, wantBad, appSearchRequest},
		{"substrings without components", search("a4 05 04 01 61 30 00"), 1024, wantBad, appSearchRequest},
		{"substrings initial after any", search("a4 0b 04 01 61 30 06 81 01 62 80 01 63"), 1024, wantBad, appSearchRequest},
		{"substrings two finals", search("a4 0b 04 01 61 30 06 82 01 62 82 01 63"), 1024, wantBad, appSearchRequest},
		{"substrings any after final", search("a4 0b 04 01 61 30 06 82 01 62 81 01 63"), 1024, wantBad, appSearchRequest},
		{"substrings unknown component", search("a4 08 04 01 61 30 03 83 01 62"), 1024, wantBad, appSearchRequest},
		{"extensible without rule or type", search("a9 03 83 01 61"), 1024, wantBad, appSearchRequest},
		{"extensible without value", search("a9 03 82 01 61"), 1024, wantBad, appSearchRequest},
		{"filter element past its parent", search("a0 05 87 09 61"), 1024, wantBad, appSearchRequest},
		{"indefinite filter", search("a0 80 87 01 61 00 00"), 1024, wantBad, appSearchRequest},
		{"filter 65 levels deep", searchMsg(5, nestedNot(64)), 1 << 10, wantBad, appSearchRequest},
		{"filter 100k levels deep", searchMsg(5, nestedNot(100000)), 1 << 20, wantBad, appSearchRequest},
		{"100k indefinite levels", searchMsg(5, bytes.Repeat(hx("a0 80"), 100000)), 1 << 20, wantBad, appSearchRequest},
		{"100k levels claiming 2 GB", searchMsg(5, bytes.Repeat(hx("a0 84 7f ff ff ff"), 100000)), 1 << 20, wantBad, appSearchRequest},
		{"1001-way OR", searchMsg(5, wideOr(1001)), 1 << 20, wantBad, appSearchRequest},
		{"modify operation 4", fixLen(hx("30 00 02 01 05 66 10 04 00 30 0c 30 0a 0a 01 04 30 05 04 01 61 31 00")), 1024, wantBad, appModifyRequest},
		{"modify values not a SET", fixLen(hx("30 00 02 01 05 66 10 04 00 30 0c 30 0a 0a 01 00 30 05 04 01 61 30 00")), 1024, wantBad, appModifyRequest},
		{"add value not an OCTET STRING", fixLen(hx("30 00 02 01 05 68 0e 04 00 30 0a 30 08 04 01 61 31 03 02 01 00")), 1024, wantBad, appAddRequest},
		{"compare without value", fixLen(hx("30 00 02 01 05 6e 07 04 00 30 03 04 01 61")), 1024, wantBad, appCompareRequest},
		{"modify DN without deleteoldrdn", fixLen(hx("30 00 02 01 05 6c 04 04 00 04 00")), 1024, wantBad, appModifyDNRequest},
		{"extended without name", fixLen(hx("30 00 02 01 05 77 02 81 00")), 1024, wantBad, appExtendedRequest},
		{"controls not SEQUENCEs", fixLen(hx("30 00 02 01 05 4a 01 78 a0 02 04 00")), 1024, wantBad, appDelRequest},
		{"control without type", fixLen(hx("30 00 02 01 05 4a 01 78 a0 05 30 03 01 01 ff")), 1024, wantBad, appDelRequest},
		{"control criticality of two octets", fixLen(hx("30 00 02 01 05 4a 01 78 a0 09 30 07 04 01 31 01 02 ff ff")), 1024, wantBad, appDelRequest},
		{"malformed element after the operation", fixLen(hx("30 00 02 01 05 4a 01 78 a0 09")), 1024, wantBad, appDelRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req *Request
			var err error
			alloc := allocated(func() { req, err = decodeOne(tt.in, tt.maxSize) })
			if limit := uint64(4*len(tt.in) + 256<<10); alloc > limit {
				t.Errorf("decoding %d bytes allocated %d bytes, want at most %d", len(tt.in), alloc, limit)
			}
			var de *decodeError
			switch tt.want {
			case wantEOF:
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
			case wantUnexpected:
				if !errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &de) {
					t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
				}
			case wantProtocol:
				if !errors.Is(err, errProtocol) || errors.As(err, &de) || req != nil {
					t.Fatalf("err = %v (req %+v), want errProtocol", err, req)
				}
			case wantBad:
				if !errors.As(err, &de) || !errors.Is(err, errBadRequest) {
					t.Fatalf("err = %v, want a *decodeError", err)
				}
				if de.MessageID != 5 || de.ReqTag != tt.reqTag || req == nil || req.MessageID != 5 {
					t.Fatalf("decodeError = %+v, request %+v", de, req)
				}
				reply := de.reply()
				if reply == nil {
					if responseTag(tt.reqTag) != 0 {
						t.Fatalf("no reply for request tag %d", tt.reqTag)
					}
					return
				}
				p, err := ber.DecodePacketErr(encodeResponse(nil, reply))
				if err != nil {
					t.Fatalf("decoding reply: %v", err)
				}
				if !ldap.IsErrorWithCode(ldap.GetLDAPError(p), ldap.LDAPResultProtocolError) {
					t.Errorf("reply is %v, want protocolError", ldap.GetLDAPError(p))
				}
				t.Logf("diagnostic: %s", reply.Result.Diagnostic)
			}
		})
	}
}

func TestReadRequestFilterLimits(t *testing.T) {
	for name, filter := range map[string][]byte{
		"64 levels":     nestedNot(63),
		"1000 elements": wideOr(999),
	} {
		t.Run(name, func(t *testing.T) {
			req, err := decodeOne(searchMsg(1, filter), 1<<20)
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			wantOp[*SearchRequest](t, req)
		})
	}
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A peer that announces a large message and then stalls costs what it sent,
// not what it announced.
func TestReadRequestAllocatesAsBytesArrive(t *testing.T) {
	in := append(hx("30 83 3f ff ff 02 01 01"), make([]byte, 1000)...) // announces 4 MiB
	var err error
	alloc := allocated(func() { _, err = decodeOne(in, 8<<20) })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if alloc > 256<<10 {
		t.Errorf("allocated %d bytes for a 1 KB truncated message", alloc)
	}
}

func TestReadRequestPipelined(t *testing.T) {
	var in []byte
	for id := int64(1); id <= 3; id++ {
		in = append(in, envelope(id, ber.NewString(ber.ClassApplication, ber.TypePrimitive, 10, fmt.Sprintf("cn=%d", id), ""))...)
	}
	br := bufio.NewReader(bytes.NewReader(in))
	for id := int64(1); id <= 3; id++ {
		req, err := readRequest(br, 1024)
		if err != nil {
			t.Fatalf("message %d: %v", id, err)
		}
		checkEqual(t, "request", req, &Request{MessageID: id, Op: &DelRequest{DN: fmt.Sprintf("cn=%d", id)}})
	}
	if _, err := readRequest(br, 1024); err != io.EOF {
		t.Fatalf("after the last message: %v, want io.EOF", err)
	}
}

// A decoded request must not change when the caller appends to a []byte
// field: the slices are clipped to their contents.
func TestReadRequestByteFieldsAreClipped(t *testing.T) {
	req, err := decodeOne(envelope(1, appOp(0, ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, ""),
		octets("cn=a"), ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "pw", "")), ldap.NewControlManageDsaIT(true)), 1024)
	if err != nil {
		t.Fatal(err)
	}
	b := wantOp[*BindRequest](t, req)
	_ = append(b.Password, "XXXXXXXXXXXXXXXX"...)
	if req.Controls[0].OID != oidManageDsaIT {
		t.Errorf("append to Password overwrote the controls: %+v", req.Controls)
	}
}

func TestEncodeResponse(t *testing.T) {
	t.Run("LDAPResult bytes", func(t *testing.T) {
		got := encodeResponse(nil, &Response{MessageID: 1, AppTag: AppBindResponse, Result: Result{Code: 49, Diagnostic: "x"}})
		want := hx("30 0d 02 01 01 61 08 0a 01 31 04 00 04 01 78")
		if !bytes.Equal(got, want) {
			t.Errorf("got % x\nwant % x", got, want)
		}
	})
	t.Run("appends to the buffer", func(t *testing.T) {
		buf := []byte("prefix")
		got := encodeResponse(buf, &Response{MessageID: 200, AppTag: AppDelResponse})
		want := append([]byte("prefix"), hx("30 0d 02 02 00 c8 6b 07 0a 01 00 04 00 04 00")...)
		if !bytes.Equal(got, want) {
			t.Errorf("got % x\nwant % x", got, want)
		}
	})
	t.Run("notice of disconnection", func(t *testing.T) {
		p, err := ber.DecodePacketErr(encodeNoticeOfDisconnection(2, "bad message"))
		if err != nil {
			t.Fatal(err)
		}
		if id := p.Children[0].Value.(int64); id != 0 {
			t.Errorf("messageID = %d", id)
		}
		op := p.Children[1]
		if op.ClassType != ber.ClassApplication || op.Tag != AppExtendedResponse || len(op.Children) != 4 {
			t.Fatalf("op = %s", ber.DescribePacket(op))
		}
		if n := op.Children[3]; n.ClassType != ber.ClassContext || n.Tag != 10 || n.Data.String() != oidNoticeOfDisconnection {
			t.Errorf("responseName = %s", ber.DescribePacket(n))
		}
		var le *ldap.Error
		if err := ldap.GetLDAPError(p); !errors.As(err, &le) || le.ResultCode != 2 || le.Err.Error() != "bad message" {
			t.Errorf("GetLDAPError = %v", err)
		}
	})
	for _, tag := range []int{AppBindResponse, AppSearchDone, AppModifyResponse, AppAddResponse, AppDelResponse,
		AppModifyDNResponse, AppCompareResponse, AppExtendedResponse} {
		t.Run(fmt.Sprintf("result shaped [APPLICATION %d]", tag), func(t *testing.T) {
			p, err := ber.DecodePacketErr(encodeResponse(nil, &Response{MessageID: 9, AppTag: tag,
				Result:   Result{Code: 53, MatchedDN: "dc=org", Diagnostic: "no"},
				Controls: []Control{{OID: "1.2.3", Critical: true}, {OID: "1.2.4", Value: []byte{}, HasValue: true}}}))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Children) != 3 || p.Children[1].Tag != ber.Tag(tag) || p.Children[1].ClassType != ber.ClassApplication ||
				p.Children[1].TagType != ber.TypeConstructed || len(p.Children[1].Children) != 3 {
				t.Fatalf("packet:\n%s", ber.DescribePacket(p))
			}
			var le *ldap.Error
			if err := ldap.GetLDAPError(p); !errors.As(err, &le) || le.ResultCode != 53 || le.MatchedDN != "dc=org" {
				t.Errorf("GetLDAPError = %v", err)
			}
			cs := p.Children[2]
			if cs.ClassType != ber.ClassContext || cs.Tag != 0 || len(cs.Children) != 2 {
				t.Fatalf("controls:\n%s", ber.DescribePacket(cs))
			}
			c0, err := ldap.DecodeControl(cs.Children[0])
			if err != nil || c0.GetControlType() != "1.2.3" || !c0.(*ldap.ControlString).Criticality {
				t.Errorf("control 0 = %v, %v", c0, err)
			}
			if n := len(cs.Children[1].Children); n != 2 {
				t.Errorf("control 1 has %d elements, want type and empty value", n)
			}
		})
	}
	t.Run("intermediate response", func(t *testing.T) {
		p, err := ber.DecodePacketErr(encodeResponse(nil, &Response{MessageID: 3, AppTag: AppIntermediate,
			ResponseName: "1.2.3", ResponseValue: []byte("v"), HasResponseValue: true}))
		if err != nil {
			t.Fatal(err)
		}
		op := p.Children[1]
		if op.Tag != AppIntermediate || len(op.Children) != 2 || op.Children[0].Tag != 0 || op.Children[1].Tag != 1 ||
			op.Children[1].Data.String() != "v" {
			t.Errorf("packet:\n%s", ber.DescribePacket(p))
		}
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz with -update-fuzz-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*updateFuzzSeeds {
		t.Skip("run with -update-fuzz-seeds to rewrite the corpora")
	}
	search, _ := ldap.CompileFilter("(&(objectClass=person)(|(uid=jo*b*n)(cn~=x)(!(mail=*))(age>=3)(cn:dn:2.5.13.5:=Y)))")
	corpora := map[string]map[string][]byte{
		"FuzzReadRequest": {
			"bind":     envelope(1, appOp(0, ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 3, ""), octets("cn=admin,dc=example,dc=org"), ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, "secret", ""))),
			"search":   searchMsg(2, search.Bytes()),
			"paged":    envelope(3, appOp(3, octets("dc=example"), ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 2, ""), ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""), ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""), ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""), ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""), ber.NewString(ber.ClassContext, ber.TypePrimitive, 7, "objectClass", ""), ber.NewSequence("")), ldap.NewControlPaging(100), ldap.NewControlBeheraPasswordPolicy()),
			"modify":   hx("30 2a 02 01 04 66 25 04 04 63 6e 3d 78 30 1d 30 0d 0a 01 00 30 08 04 01 61 31 03 04 01 62 30 0c 0a 01 03 30 07 04 01 6e 31 02 04 00"),
			"add":      hx("30 1e 02 01 05 68 19 04 04 63 6e 3d 78 30 11 30 0f 04 02 63 6e 31 09 04 01 78 04 04 59 65 73 21"),
			"delete":   hx("30 0a 02 01 06 4a 05 63 6e 3d 78 79"),
			"moddn":    hx("30 1a 02 01 07 6c 15 04 04 63 6e 3d 78 04 04 63 6e 3d 79 01 01 ff 80 04 6f 75 3d 7a"),
			"compare":  hx("30 17 02 01 08 6e 12 04 04 63 6e 3d 78 30 0a 04 02 63 6e 04 04 4a 6f 68 6e"),
			"abandon":  hx("30 06 02 01 09 50 01 08"),
			"passwd":   envelope(10, appOp(23, ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, oidPasswordModify, ""), ber.NewString(ber.ClassContext, ber.TypePrimitive, 1, string(hx("30 0b 80 01 61 81 01 62 82 03 6e 65 77")), ""))),
			"unbind":   hx("30 05 02 01 0b 42 00"),
			"pipeline": append(hx("30 06 02 01 09 50 01 08"), hx("30 84 00 00 00 05 02 01 0b 42 00")...),
			"deep":     searchMsg(12, nestedNot(70)),
		},
		"FuzzDecodePasswdModify": {
			"all":      hx("30 0b 80 01 61 81 01 62 82 03 6e 65 77"),
			"identity": hx("30 0f 80 0d 75 69 64 3d 6a 6f 2c 64 63 3d 6f 72 67"),
			"empty":    hx("30 00"),
			"trailing": hx("30 03 82 01 61 00"),
			"longform": hx("30 84 00 00 00 03 81 01 61"),
		},
		"FuzzDecodePagedResults": {
			"first":  hx("30 05 02 01 64 04 00"),
			"cookie": hx("30 0a 02 02 01 f4 04 04 01 02 03 04"),
			"zero":   hx("30 05 02 01 00 04 00"),
			"bad":    hx("30 05 02 01 ff 04 00"),
		},
	}
	for fuzz, seeds := range corpora {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			if fuzz == "FuzzReadRequest" && name != "deep" {
				if _, err := decodeOne(b, 1<<16); err != nil {
					t.Fatalf("seed %s does not decode: %v", name, err)
				}
			}
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	const maxSize = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		br := bufio.NewReader(r)
		consumed := 0
		for range 4 {
			req, err := readRequest(br, maxSize)
			now := len(data) - r.Len() - br.Buffered()
			if now-consumed > maxSize+6 {
				t.Fatalf("read %d bytes for one message, maxSize %d", now-consumed, maxSize)
			}
			consumed = now
			var de *decodeError
			if errors.As(err, &de) {
				if reply := de.reply(); reply != nil {
					if _, err := ber.DecodePacketErr(encodeResponse(nil, reply)); err != nil {
						t.Fatalf("reply does not decode: %v", err)
					}
				}
				continue
			}
			if err != nil {
				return
			}
			// Echo what was decoded through the encoder: it must stay
			// valid BER whatever bytes the strings hold.
			var resp *Response
			switch op := req.Op.(type) {
			case *SearchRequest:
				_ = op.Filter.String()
				resp = &Response{MessageID: req.MessageID, AppTag: AppSearchEntry, EntryDN: op.BaseDN,
					Attributes: []Attribute{{Type: "attrs", Values: op.Attributes}}}
			case *AddRequest:
				resp = &Response{MessageID: req.MessageID, AppTag: AppSearchEntry, EntryDN: op.DN, Attributes: op.Attributes}
			case *ExtendedRequest:
				resp = &Response{MessageID: req.MessageID, AppTag: AppExtendedResponse, ResponseName: op.Name,
					ResponseValue: op.Value, HasResponseValue: op.HasValue, Controls: req.Controls}
			default:
				resp = &Response{MessageID: req.MessageID, AppTag: AppModifyResponse, Controls: req.Controls}
			}
			b := encodeResponse(nil, resp)
			p, err := ber.DecodePacketErr(b)
			if err != nil || len(p.Bytes()) != len(b) {
				t.Fatalf("echo of %T does not decode: %v", req.Op, err)
			}
		}
	})
}

// benchSearch is the request a typical PAM/NSS client sends per login.
func benchSearch(b *testing.B) []byte {
	p, err := ldap.CompileFilter("(&(objectClass=posixAccount)(uid=jdoe)(|(memberOf=cn=vpn,ou=Groups,dc=example,dc=org)(memberOf=cn=admins,ou=Groups,dc=example,dc=org)))")
	if err != nil {
		b.Fatal(err)
	}
	attrs := ber.NewSequence("")
	for _, a := range []string{"uid", "userPassword", "uidNumber", "gidNumber", "cn", "homeDirectory", "loginShell", "gecos"} {
		attrs.AppendChild(octets(a))
	}
	return envelope(42, appOp(3, octets("ou=People,dc=example,dc=org"),
		ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 2, ""),
		ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""),
		ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 1, ""),
		ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""),
		ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""),
		p, attrs), ldap.NewControlPaging(500))
}

func BenchmarkReadSearchRequest(b *testing.B) {
	msg := benchSearch(b)
	rd := bytes.NewReader(msg)
	br := bufio.NewReader(rd)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(msg)
		br.Reset(rd)
		if _, err := readRequest(br, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSearchEntry(b *testing.B) {
	resp := &Response{MessageID: 42, AppTag: AppSearchEntry, EntryDN: "uid=jdoe,ou=People,dc=example,dc=org",
		Attributes: []Attribute{
			{Type: "objectClass", Values: []string{"top", "person", "organizationalPerson", "inetOrgPerson", "posixAccount"}},
			{Type: "uid", Values: []string{"jdoe"}},
			{Type: "cn", Values: []string{"John Doe"}},
			{Type: "sn", Values: []string{"Doe"}},
			{Type: "mail", Values: []string{"jdoe@example.org"}},
			{Type: "uidNumber", Values: []string{"10001"}},
			{Type: "gidNumber", Values: []string{"10001"}},
			{Type: "homeDirectory", Values: []string{"/home/jdoe"}},
			{Type: "loginShell", Values: []string{"/bin/bash"}},
			{Type: "memberOf", Values: []string{"cn=vpn,ou=Groups,dc=example,dc=org", "cn=staff,ou=Groups,dc=example,dc=org"}},
		}}
	buf := encodeResponse(nil, resp)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeResponse(buf[:0], resp)
	}
}
