package e2e

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// berTLV encodes one BER element with a definite length.
func berTLV(tag byte, content []byte) []byte {
	n := len(content)
	var l []byte
	switch {
	case n < 0x80:
		l = []byte{byte(n)}
	case n < 1<<8:
		l = []byte{0x81, byte(n)}
	case n < 1<<16:
		l = []byte{0x82, byte(n >> 8), byte(n)}
	default:
		l = []byte{0x83, byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(append([]byte{tag}, l...), content...)
}

func concat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// nestedFilterSearch is a well-framed SearchRequest whose filter is depth
// ANDs inside each other, under the anonymous message size limit.
func nestedFilterSearch(depth int) []byte {
	f := berTLV(0x87, []byte("objectClass")) // (objectClass=*)
	for range depth {
		f = berTLV(0xa0, f)
	}
	op := berTLV(0x63, concat(
		berTLV(0x04, []byte(baseDN)),
		berTLV(0x0a, []byte{2}), berTLV(0x0a, []byte{0}),
		berTLV(0x02, []byte{0}), berTLV(0x02, []byte{0}),
		berTLV(0x01, []byte{0}),
		f,
		berTLV(0x30, nil)))
	return berTLV(0x30, concat(berTLV(0x02, []byte{1}), op))
}

// nestedSequences is an LDAPMessage whose body is depth SEQUENCEs deep.
func nestedSequences(depth int) []byte {
	b := berTLV(0x30, nil)
	for range depth {
		b = berTLV(0x30, b)
	}
	return berTLV(0x30, concat(berTLV(0x02, []byte{1}), b))
}

// expectClosed reads from nc until the server closes it; a read timeout
// means the server kept the connection open.
func expectClosed(t *testing.T, nc net.Conn, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	nc.SetReadDeadline(start.Add(within))
	_, err := io.Copy(io.Discard, nc)
	var ne net.Error
	switch {
	case err == nil, errors.Is(err, syscall.ECONNRESET):
		// EOF (io.Copy returns nil) or a reset: closed.
	case errors.As(err, &ne) && ne.Timeout():
		t.Errorf("the server kept the connection open for %v", within)
	default:
		t.Errorf("reading: %v", err)
	}
	return time.Since(start)
}

// TestBadInput sends malformed LDAP on raw connections: each is closed,
// while other connections are served throughout.
func TestBadInput(t *testing.T) {
	t.Parallel()
	d := startDird(t, nil)
	loadDirectory(t, d)
	search := func(t *testing.T) {
		t.Helper()
		r := d.as(t, userDN("bob"), pwOf("bob"), "ldapsearch", "-LLL", "-b", baseDN, "(uid=alice)", "cn")
		expect(t, r, 0, "dn: "+userDN("alice"), "cn: Alice Liddell")
	}
	for _, tc := range []struct {
		name    string
		payload []byte
	}{
		{"text that is not BER", []byte("GET / HTTP/1.1\r\nHost: ldap\r\n\r\n")},
		{"a 2 GiB length prefix", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01}},
		{"a length past the anonymous limit", berTLV(0x30, make([]byte, 300<<10))},
		{"an unknown operation", berTLV(0x30, concat(berTLV(0x02, []byte{1}), berTLV(0x7f, nil)))},
		{"deeply nested sequences", nestedSequences(10000)},
	} {
		t.Run(tc.name+" closes that connection only", func(t *testing.T) {
			nc, err := net.Dial("tcp", d.addrs["ldap"])
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// The server may hang up before it has read everything.
			go nc.Write(tc.payload)
			search(t) // another connection, while this one is open
			expectClosed(t, nc, 10*time.Second)
			search(t)
		})
	}
	// A filter nested past the decoder's bound is a well-framed message:
	// the stream is still in sync, so ldapd answers protocolError to it
	// and keeps the connection (ldapd/wire.go decodeError, as slapd does
	// for a bad filter), rather than closing it.
	t.Run("a deeply nested filter is a protocol error and harms nobody", func(t *testing.T) {
		nc, err := net.Dial("tcp", d.addrs["ldap"])
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		go nc.Write(nestedFilterSearch(10000))
		search(t)
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		p, err := ber.ReadPacket(nc)
		if err != nil {
			t.Fatalf("reading the answer to a deeply nested filter: %v", err)
		}
		if tag, code := responseCode(p); tag != 5 || code != 2 {
			t.Fatalf("answer to a deeply nested filter: application tag %d code %d, want SearchResultDone (5) protocolError (2)", tag, code)
		}
		// The connection still works: an anonymous WhoAmI.
		whoami := berTLV(0x30, concat(berTLV(0x02, []byte{2}), berTLV(0x77, berTLV(0x80, []byte("1.3.6.1.4.1.4203.1.11.3")))))
		if _, err := nc.Write(whoami); err != nil {
			t.Fatal(err)
		}
		p, err = ber.ReadPacket(nc)
		if err != nil {
			t.Fatalf("reading WhoAmI after the bad filter: %v", err)
		}
		if tag, code := responseCode(p); tag != 24 || code != 0 {
			t.Errorf("WhoAmI after the bad filter: application tag %d code %d, want ExtendedResponse (24) success", tag, code)
		}
		search(t)
	})
	t.Run("the server still serves after bad input", func(t *testing.T) {
		search(t)
		expect(t, d.whoami(t, adminDN, adminPW), 0, "dn:"+adminDN)
	})
}

// TestIdleTimeout: a connection that sends nothing for ldap.idle_timeout
// is closed; each message restarts the clock.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	d := startDird(t, opts{"ldap.idle_timeout": "1s"})
	t.Run("an idle connection is closed", func(t *testing.T) {
		nc, err := net.Dial("tcp", d.addrs["ldap"])
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		took := expectClosed(t, nc, 10*time.Second)
		if took < 900*time.Millisecond || took > 5*time.Second {
			t.Errorf("idle connection closed after %v, want about 1s", took)
		}
	})
	t.Run("a busy connection stays open past the timeout", func(t *testing.T) {
		conn, err := ldap.DialURL(d.url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Bind(adminDN, adminPW); err != nil {
			t.Fatal(err)
		}
		for range 6 {
			time.Sleep(400 * time.Millisecond) // the client's pace, not a readiness wait
			res, err := conn.WhoAmI(nil)
			if err != nil {
				t.Fatalf("whoami on a connection used every 400ms: %v", err)
			}
			if res.AuthzID != "dn:"+adminDN {
				t.Errorf("whoami %q", res.AuthzID)
			}
		}
	})
}

// TestGracefulShutdown: SIGTERM while clients hold connections ends dird
// promptly with status 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	d := startDird(t, nil)
	conn, err := ldap.DialURL(d.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(adminDN, adminPW); err != nil {
		t.Fatal(err)
	}
	idle, err := net.Dial("tcp", d.addrs["ldap"])
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	start := time.Now()
	d.stop(t)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("dird took %v to stop with open connections", took)
	}
	expectClosed(t, idle, 5*time.Second)
	if _, err := conn.WhoAmI(nil); err == nil {
		t.Error("a connection still answered after shutdown")
	}
	if _, err := net.DialTimeout("tcp", d.addrs["ldap"], time.Second); err == nil {
		t.Error("the LDAP port still accepts connections after shutdown")
	}
}

// responseCode returns the protocolOp application tag and resultCode of a
// decoded LDAPMessage, or -1s when it is not one.
func responseCode(p *ber.Packet) (tag, code int) {
	if len(p.Children) < 2 || p.Children[1].ClassType != ber.ClassApplication || len(p.Children[1].Children) == 0 {
		return -1, -1
	}
	op := p.Children[1]
	c, ok := op.Children[0].Value.(int64)
	if !ok {
		return int(op.Tag), -1
	}
	return int(op.Tag), int(c)
}

// TestMaxConnections: past ldap.max_connections a new connection is told
// why and closed; a freed slot serves again.
func TestMaxConnections(t *testing.T) {
	t.Parallel()
	d := startDird(t, opts{"ldap.max_connections": 2})
	var held []*ldap.Conn
	for range 2 {
		c, err := ldap.DialURL(d.url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(adminDN, adminPW); err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	nc, err := net.Dial("tcp", d.addrs["ldap"])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := ber.ReadPacket(nc)
	if err != nil {
		t.Fatalf("reading from a connection past max_connections: %v", err)
	}
	// A Notice of Disconnection (RFC 4511 §4.4.1): messageID 0, an
	// ExtendedResponse with code unavailable (52).
	if tag, code := responseCode(p); tag != 24 || code != 52 {
		t.Errorf("past max_connections: application tag %d code %d, want ExtendedResponse (24) unavailable (52)", tag, code)
	}
	expectClosed(t, nc, 10*time.Second)
	// libldap reports the notice that arrives before its bind answer as
	// a lost connection.
	if r := d.whoami(t, adminDN, adminPW); r.exit == 0 {
		t.Errorf("ldapwhoami past max_connections succeeded\n%s", r)
	}

	// The held connections still work.
	for _, c := range held {
		if _, err := c.WhoAmI(nil); err != nil {
			t.Errorf("a connection within the limit: %v", err)
		}
	}
	// The server frees the slot once it has seen the close; poll for it.
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := d.whoami(t, adminDN, adminPW)
		if r.exit == 0 {
			expect(t, r, 0, "dn:"+adminDN)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot freed 10s after closing a connection\n%s", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
