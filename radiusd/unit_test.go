package radiusd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/dird/dird/policy"
)

func signedRequest(t *testing.T, extra ...*radius.AVP) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(testSecret))
	rfc2865.UserName_SetString(p, "alice")
	p.Attributes = append(p.Attributes, extra...)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return resign(b)
}

func TestVerifyMessageAuthenticator(t *testing.T) {
	ma := func() *radius.AVP {
		return &radius.AVP{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, 16)}
	}
	good := signedRequest(t)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-1] ^= 1
	unsigned, _ := radius.New(radius.CodeAccessRequest, []byte(testSecret)).MarshalBinary()
	short := &radius.AVP{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, 15)}
	shortPkt, _ := (&radius.Packet{Code: radius.CodeAccessRequest, Attributes: radius.Attributes{short}}).MarshalBinary()
	twoPkt, _ := (&radius.Packet{Code: radius.CodeAccessRequest, Attributes: radius.Attributes{ma(), ma()}}).MarshalBinary()
	tests := []struct {
		name   string
		pkt    []byte
		secret string
		want   error
	}{
		{"valid", good, testSecret, nil},
		{"valid anywhere in the request, not only first", signedRequest(t, &radius.AVP{Type: rfc2865.NASIdentifier_Type, Attribute: radius.Attribute("ap")}), testSecret, nil},
		{"another secret", good, "other-secret", errBadMessageAuthenticator},
		{"a changed byte", flipped, testSecret, errBadMessageAuthenticator},
		{"missing", unsigned, testSecret, errNoMessageAuthenticator},
		{"two of them", twoPkt, testSecret, errManyMessageAuthenticator},
		{"15 bytes", shortPkt, testSecret, errMessageAuthenticatorLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyMessageAuthenticator(tt.pkt, []byte(tt.secret)); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEncodeReply(t *testing.T) {
	req, err := radius.Parse(signedRequest(t,
		&radius.AVP{Type: rfc2865.ProxyState_Type, Attribute: radius.Attribute("a")},
		&radius.AVP{Type: rfc2865.ProxyState_Type, Attribute: radius.Attribute("b")},
	), []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	filterID := &radius.AVP{Type: rfc2865.FilterID_Type, Attribute: radius.Attribute("staff")}
	msg := &radius.AVP{Type: rfc2865.ReplyMessage_Type, Attribute: radius.Attribute("no")}
	t.Run("Access-Accept: Message-Authenticator first, attributes, Proxy-State last", func(t *testing.T) {
		b, err := encodeReply(radius.CodeAccessAccept, req, radius.Attributes{filterID}, []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := radius.Parse(b, []byte(testSecret))
		var types []radius.Type
		for _, a := range p.Attributes {
			types = append(types, a.Type)
		}
		if want := []radius.Type{rfc2869.MessageAuthenticator_Type, rfc2865.FilterID_Type, rfc2865.ProxyState_Type, rfc2865.ProxyState_Type}; fmt.Sprint(types) != fmt.Sprint(want) {
			t.Errorf("attributes %v, want %v", types, want)
		}
		if ps, _ := rfc2865.ProxyState_GetStrings(p); fmt.Sprint(ps) != "[a b]" {
			t.Errorf("Proxy-State %v, want [a b] in order", ps)
		}
		raw, _ := req.MarshalBinary()
		if !radius.IsAuthenticResponse(b, raw, []byte(testSecret)) {
			t.Error("Response Authenticator does not verify")
		}
		// The Message-Authenticator is over the reply with the Request
		// Authenticator in place of the Response Authenticator.
		check := append([]byte(nil), b...)
		copy(check[4:20], req.Authenticator[:])
		if err := verifyMessageAuthenticator(check, []byte(testSecret)); err != nil {
			t.Errorf("Message-Authenticator: %v", err)
		}
	})
	t.Run("Access-Reject drops service attributes", func(t *testing.T) {
		b, err := encodeReply(radius.CodeAccessReject, req, radius.Attributes{filterID, msg}, []byte(testSecret))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := radius.Parse(b, []byte(testSecret))
		if _, ok := p.Lookup(rfc2865.FilterID_Type); ok {
			t.Error("Access-Reject carries Filter-Id")
		}
		if rfc2865.ReplyMessage_GetString(p) != "no" {
			t.Error("Access-Reject lost its Reply-Message")
		}
	})
}

func TestReplyCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	k := dedupKey{netip.MustParseAddrPort("10.0.0.1:5000"), 7}
	a1, a2 := [16]byte{1}, [16]byte{2}
	t.Run("a retransmission in progress is dropped, then answered from the cache", func(t *testing.T) {
		c := newReplyCache()
		e, _ := c.begin(k, a1, now)
		if e == nil {
			t.Fatal("new request not admitted")
		}
		if e2, cached := c.begin(k, a1, now); e2 != nil || cached != nil {
			t.Fatal("retransmission in progress not dropped")
		}
		c.finish(k, e, []byte("reply"))
		if e2, cached := c.begin(k, a1, now.Add(time.Second)); e2 != nil || string(cached) != "reply" {
			t.Fatalf("retransmission got %v %q, want the cached reply", e2, cached)
		}
	})
	t.Run("a new authenticator is a new request", func(t *testing.T) {
		c := newReplyCache()
		e, _ := c.begin(k, a1, now)
		c.finish(k, e, []byte("reply"))
		if e2, _ := c.begin(k, a2, now); e2 == nil {
			t.Fatal("new request with the same identifier not admitted")
		}
	})
	t.Run("a forgotten request is processed again", func(t *testing.T) {
		c := newReplyCache()
		e, _ := c.begin(k, a1, now)
		c.forget(k, e)
		if e2, _ := c.begin(k, a1, now); e2 == nil {
			t.Fatal("not admitted after forget")
		}
	})
	t.Run("entries expire within two rotations", func(t *testing.T) {
		c := newReplyCache()
		e, _ := c.begin(k, a1, now)
		c.finish(k, e, []byte("reply"))
		if _, cached := c.begin(k, a1, now.Add(dedupRotate+time.Second)); cached == nil {
			t.Fatal("forgotten after one rotation")
		}
		if e2, _ := c.begin(k, a1, now.Add(2*dedupRotate+time.Second)); e2 == nil {
			t.Fatal("still cached after two rotations")
		}
	})
	t.Run("the number of entries is bounded", func(t *testing.T) {
		c := newReplyCache()
		for i := range 5 * dedupMaxEntries {
			k := dedupKey{netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(i/256)), byte(i)}
			e, _ := c.begin(k, a1, now)
			c.finish(k, e, []byte("r"))
		}
		if n := c.len(); n > 2*dedupMaxEntries {
			t.Errorf("%d entries kept, want at most %d", n, 2*dedupMaxEntries)
		}
	})
	t.Run("the bytes kept are bounded", func(t *testing.T) {
		c := newReplyCache()
		big := make([]byte, maxPacket)
		for i := range 4 * dedupMaxBytes / maxPacket {
			k := dedupKey{netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(i/256)), byte(i)}
			e, _ := c.begin(k, a1, now)
			c.finish(k, e, big)
		}
		if n := c.len(); n*maxPacket > 2*dedupMaxBytes+maxPacket {
			t.Errorf("%d replies of %d bytes kept, want at most %d bytes", n, maxPacket, 2*dedupMaxBytes)
		}
	})
}

func TestDropLog(t *testing.T) {
	var d dropLog
	now := time.Unix(1_000_000, 0)
	a := netip.MustParseAddr("10.0.0.1")
	if ok, _ := d.allow(a, "x", now); !ok {
		t.Fatal("first drop not logged")
	}
	for range 5 {
		if ok, _ := d.allow(a, "x", now.Add(time.Second)); ok {
			t.Fatal("second drop within a minute logged")
		}
	}
	if ok, _ := d.allow(a, "y", now); !ok {
		t.Error("another reason from the same source not logged")
	}
	if ok, n := d.allow(a, "x", now.Add(dropLogInterval)); !ok || n != 5 {
		t.Errorf("after a minute: logged %v with %d suppressed, want true with 5", ok, n)
	}
	for i := range 2 * dropLogMaxKeys {
		d.allow(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), "x", now)
	}
	if len(d.seen) > dropLogMaxKeys {
		t.Errorf("%d sources remembered, want at most %d", len(d.seen), dropLogMaxKeys)
	}
}

func TestOutcomeReply(t *testing.T) {
	tests := []struct {
		name string
		out  policy.Outcome
		code radius.Code
		msg  string
	}{
		{"ok", policy.Outcome{Result: policy.OK, GraceRemaining: -1}, radius.CodeAccessAccept, ""},
		{"expires in days, rounded", policy.Outcome{Result: policy.OK, GraceRemaining: -1, ExpiresIn: 4*24*time.Hour + 13*time.Hour}, radius.CodeAccessAccept, "Your password expires in 5 days"},
		{"expires in one day", policy.Outcome{Result: policy.OK, GraceRemaining: -1, ExpiresIn: 30 * time.Hour}, radius.CodeAccessAccept, "Your password expires in 1 day"},
		{"expires in hours on the last day", policy.Outcome{Result: policy.OK, GraceRemaining: -1, ExpiresIn: 90 * time.Minute}, radius.CodeAccessAccept, "Your password expires in 2 hours"},
		{"expires within the hour", policy.Outcome{Result: policy.OK, GraceRemaining: -1, ExpiresIn: time.Minute}, radius.CodeAccessAccept, "Your password expires in 1 hour"},
		{"must change", policy.Outcome{Result: policy.OK, GraceRemaining: -1, MustChange: true, ExpiresIn: time.Hour}, radius.CodeAccessAccept, msgMustChange},
		{"grace login", policy.Outcome{Result: policy.OK, GraceRemaining: 1}, radius.CodeAccessAccept, "Your password has expired; 1 grace login left: change it in the portal now"},
		{"last grace login", policy.Outcome{Result: policy.OK, GraceRemaining: 0}, radius.CodeAccessAccept, "Your password has expired; 0 grace logins left: change it in the portal now"},
		{"wrong", policy.Outcome{Result: policy.InvalidCredentials}, radius.CodeAccessReject, msgWrong},
		{"locked", policy.Outcome{Result: policy.Locked}, radius.CodeAccessReject, msgLocked},
		{"expired", policy.Outcome{Result: policy.Expired}, radius.CodeAccessReject, msgExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := outcomeReply(tt.out)
			if r.code != tt.code || r.message != tt.msg {
				t.Errorf("got %s %q, want %s %q", r.code, r.message, tt.code, tt.msg)
			}
		})
	}
}

func TestClientLookup(t *testing.T) {
	s, err := New(Config{Clients: []Client{
		{Name: "ap", Address: "10.0.0.5", Secret: "s1"},
		{Name: "lan", Address: "10.0.0.0/8", Secret: "s2"},
		{Name: "v6", Address: "2001:db8::/32", Secret: "s3"},
	}}, nil, nil, slog.New(slog.DiscardHandler), Options{CertDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ addr, want string }{
		{"10.0.0.5:1000", "ap"}, // first match wins
		{"10.0.0.6:1000", "lan"},
		{"[::ffff:10.0.0.5]:1000", "ap"}, // an IPv4 source on a dual-stack socket
		{"[2001:db8::1]:1000", "v6"},
		{"192.0.2.1:1000", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ua, err := net.ResolveUDPAddr("udp", tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if c := s.client(addrPort(ua).Addr()); c != nil {
				got = c.name
			}
			if got != tt.want {
				t.Errorf("client %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWeakSecretWarning(t *testing.T) {
	logs := &syncBuffer{}
	if _, err := New(Config{Clients: []Client{
		{Name: "local", Address: "127.0.0.0/8", Secret: "testing123"},
		{Name: "lab", Address: "10.0.0.0/8", Secret: "testing123"},
		{Name: "ap", Address: "10.1.0.0/16", Secret: "Xq3vT9pL2mR8wK5zB7nD4fH6"},
	}}, nil, nil, slog.New(slog.NewTextHandler(logs, nil)), Options{CertDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "client=lab") || strings.Contains(out, "client=local") || strings.Contains(out, "client=ap") {
		t.Errorf("weak secret warnings:\n%s\nwant one, for lab only", out)
	}
}
