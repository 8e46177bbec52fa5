package radiusd_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"github.com/dird/dird/internal/dirdtest"
	"github.com/dird/dird/store"
)

const (
	secret   = "testing123"
	peopleDN = "ou=people,dc=example,dc=com"
	alicePW  = "Wonderland-2026"
	// noReply is how long a test waits to conclude that a packet was
	// dropped; replyWait how long it waits for a reply that must come
	// (an Access-Reject leaves a second after its request).
	noReply   = 300 * time.Millisecond
	replyWait = 10 * time.Second
)

// ldapAdmin binds to d as the administrator.
func ldapAdmin(t testing.TB, d *dirdtest.Dird) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(d.LDAPURL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(dirdtest.AdminDN, dirdtest.AdminPassword); err != nil {
		t.Fatalf("admin bind: %v", err)
	}
	return c
}

// seed adds ou=people and one user per uid: password pairs.
func seed(t testing.TB, d *dirdtest.Dird, users map[string]string) {
	t.Helper()
	c := ldapAdmin(t, d)
	r := ldap.NewAddRequest(peopleDN, nil)
	r.Attribute("objectClass", []string{"organizationalUnit"})
	r.Attribute("ou", []string{"people"})
	if err := c.Add(r); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		t.Fatalf("add %s: %v", peopleDN, err)
	}
	for uid, pw := range users {
		r := ldap.NewAddRequest(userDN(uid), nil)
		r.Attribute("objectClass", []string{"inetOrgPerson"})
		r.Attribute("cn", []string{uid + " Example"})
		r.Attribute("sn", []string{"Example"})
		r.Attribute("userPassword", []string{pw})
		if err := c.Add(r); err != nil {
			t.Fatalf("add %s: %v", uid, err)
		}
	}
}

func userDN(uid string) string { return "uid=" + uid + "," + peopleDN }

// modify replaces attr on uid's entry, as the administrator.
func modify(t *testing.T, d *dirdtest.Dird, uid, attr string, vals ...string) {
	t.Helper()
	m := ldap.NewModifyRequest(userDN(uid), nil)
	m.Replace(attr, vals)
	if err := ldapAdmin(t, d).Modify(m); err != nil {
		t.Fatalf("modify %s %s: %v", uid, attr, err)
	}
}

// failures counts uid's recorded failed attempts (pwdFailureTime).
func failures(t *testing.T, d *dirdtest.Dird, uid string) int {
	t.Helper()
	res, err := ldapAdmin(t, d).Search(ldap.NewSearchRequest(userDN(uid), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"pwdFailureTime"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("reading pwdFailureTime of %s: %v", uid, err)
	}
	return len(res.Entries[0].GetAttributeValues("pwdFailureTime"))
}

// ldapBind binds as uid with pw.
func ldapBind(t *testing.T, d *dirdtest.Dird, uid, pw string) error {
	t.Helper()
	c, err := ldap.DialURL(d.LDAPURL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	return c.Bind(userDN(uid), pw)
}

// accessRequest is a PAP Access-Request made with layeh's client side.
func accessRequest(t testing.TB, user, pw string) *radius.Packet {
	t.Helper()
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	if err := rfc2865.UserName_SetString(p, user); err != nil {
		t.Fatal(err)
	}
	if err := rfc2865.UserPassword_SetString(p, pw); err != nil {
		t.Fatal(err)
	}
	rfc2865.NASIdentifier_SetString(p, "test-nas")
	return p
}

// sign encodes p with a Message-Authenticator computed with key (RFC 3579
// §3.2), placed first as FreeRADIUS places it; layeh does not compute it.
func sign(t testing.TB, p *radius.Packet, key string) []byte {
	t.Helper()
	q := *p
	q.Attributes = append(radius.Attributes{{Type: rfc2869.MessageAuthenticator_Type, Attribute: make(radius.Attribute, 16)}}, p.Attributes...)
	b, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(md5.New, []byte(key))
	m.Write(b)
	copy(b[22:38], m.Sum(nil))
	return b
}

// nas is a RADIUS client on one UDP socket (so retransmissions come from
// the same source port).
type nas struct {
	t    *testing.T
	conn *net.UDPConn
}

func newNAS(t *testing.T, d *dirdtest.Dird) *nas {
	t.Helper()
	if d.RadiusAddr == "" {
		t.Fatal("dird has no RADIUS listener")
	}
	ra, err := net.ResolveUDPAddr("udp", d.RadiusAddr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ra)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &nas{t: t, conn: c}
}

func (n *nas) send(b []byte) {
	n.t.Helper()
	if _, err := n.conn.Write(b); err != nil {
		n.t.Fatalf("send: %v", err)
	}
}

// read waits up to wait for a datagram; nil when none came.
func (n *nas) read(wait time.Duration) []byte {
	n.t.Helper()
	n.conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4096)
	k, err := n.conn.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		n.t.Fatalf("read: %v", err)
	}
	return buf[:k]
}

// exchange sends req and returns the verified, parsed reply.
func (n *nas) exchange(req []byte) *radius.Packet {
	n.t.Helper()
	n.send(req)
	b := n.read(replyWait)
	if b == nil {
		n.t.Fatalf("no reply within %s", replyWait)
	}
	return verifyReply(n.t, b, req, secret)
}

// expectNoReply sends req and checks nothing comes back.
func (n *nas) expectNoReply(req []byte) {
	n.t.Helper()
	n.send(req)
	if b := n.read(noReply); b != nil {
		n.t.Fatalf("got a reply (code %d), want the request dropped", b[0])
	}
}

// verifyReply checks a reply as a careful client does: the Response
// Authenticator, and a Message-Authenticator that is the first attribute
// and verifies over the reply with the request's authenticator in place.
func verifyReply(t *testing.T, b, req []byte, key string) *radius.Packet {
	t.Helper()
	if !radius.IsAuthenticResponse(b, req, []byte(key)) {
		t.Fatalf("reply's Response Authenticator does not verify")
	}
	if len(b) < 38 || b[20] != byte(rfc2869.MessageAuthenticator_Type) || b[21] != 18 {
		t.Fatalf("reply's first attribute is not Message-Authenticator: % x", b[20:min(len(b), 24)])
	}
	c := bytes.Clone(b)
	copy(c[4:20], req[4:20])
	clear(c[22:38])
	m := hmac.New(md5.New, []byte(key))
	m.Write(c)
	if !hmac.Equal(m.Sum(nil), b[22:38]) {
		t.Fatalf("reply's Message-Authenticator does not verify")
	}
	if b[1] != req[1] {
		t.Fatalf("reply identifier %d, want %d", b[1], req[1])
	}
	p, err := radius.Parse(b, []byte(key))
	if err != nil {
		t.Fatalf("parsing reply: %v", err)
	}
	return p
}

func expect(t *testing.T, p *radius.Packet, code radius.Code, message string) {
	t.Helper()
	if p.Code != code {
		t.Errorf("reply %s, want %s (Reply-Message %q)", p.Code, code, rfc2865.ReplyMessage_GetString(p))
	}
	if got := rfc2865.ReplyMessage_GetString(p); got != message {
		t.Errorf("Reply-Message %q, want %q", got, message)
	}
	if p.Code != radius.CodeAccessReject {
		return
	}
	for _, a := range p.Attributes {
		switch a.Type {
		case rfc2869.MessageAuthenticator_Type, rfc2865.ReplyMessage_Type, rfc2865.ProxyState_Type:
		default:
			// RFC 5080 §2.6.1: nothing that grants a service.
			t.Errorf("Access-Reject carries attribute %d", a.Type)
		}
	}
}

// waitLog waits until the server's log holds want (log lines are written
// by the server's goroutines, after the reply or the drop).
func waitLog(t *testing.T, d *dirdtest.Dird, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(d.Log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPAP(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	// 128 bytes, RADIUS PAP's maximum (and policy.max_length's default).
	long := ("Long passwords are fine over RADIUS PAP, up to one hundred and twenty-eight bytes of them; " +
		"this one uses every byte it may, to the end!")[:128]
	seed(t, d, map[string]string{"alice": alicePW, "bob": "Builder-Bob-99", "carol": long, "dup": "Duplicate-Me-42", "newid": "New-Identifier-7"})
	t.Run("right password is accepted", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "alice", alicePW), secret)), radius.CodeAccessAccept, "")
	})
	t.Run("a 128-byte password is accepted", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "carol", long), secret)), radius.CodeAccessAccept, "")
	})
	t.Run("wrong password is rejected after the reject delay", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		p := accessRequest(t, "bob", "not-bobs-password")
		rfc2865.ProxyState_Add(p, []byte("ps"))
		start := time.Now()
		expect(t, n.exchange(sign(t, p, secret)), radius.CodeAccessReject, "Wrong user name or password")
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Errorf("Access-Reject after %s, want about 1s (reject_delay)", el)
		}
	})
	t.Run("unknown user is rejected like a wrong password", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "mallory", "whatever-123"), secret)), radius.CodeAccessReject, "Wrong user name or password")
	})
	t.Run("Proxy-State is copied into the reply in order", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		p := accessRequest(t, "alice", alicePW)
		rfc2865.ProxyState_Add(p, []byte("first"))
		rfc2865.ProxyState_Add(p, []byte("second"))
		got, _ := rfc2865.ProxyState_Gets(n.exchange(sign(t, p, secret)))
		if len(got) != 2 || string(got[0]) != "first" || string(got[1]) != "second" {
			t.Errorf("Proxy-State in reply = %q, want [first second]", got)
		}
	})
	t.Run("request without Message-Authenticator is dropped", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		b, err := accessRequest(t, "alice", alicePW).Encode()
		if err != nil {
			t.Fatal(err)
		}
		n.expectNoReply(b)
		waitLog(t, d, `reason="no Message-Authenticator`)
	})
	t.Run("request with a wrong Message-Authenticator is dropped", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		b := sign(t, accessRequest(t, "alice", alicePW), secret)
		b[30] ^= 0x01 // inside the Message-Authenticator
		n.expectNoReply(b)
		waitLog(t, d, `reason="wrong Message-Authenticator`)
	})
	t.Run("request signed with another shared secret is dropped", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		p := accessRequest(t, "alice", alicePW)
		p.Secret = []byte("not-the-secret")
		rfc2865.UserPassword_SetString(p, alicePW)
		n.expectNoReply(sign(t, p, "not-the-secret"))
	})
	t.Run("Status-Server is answered with Access-Accept", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		p := radius.New(radius.CodeStatusServer, []byte(secret))
		expect(t, n.exchange(sign(t, p, secret)), radius.CodeAccessAccept, "")
	})
	t.Run("Status-Server without Message-Authenticator is dropped", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		b, _ := radius.New(radius.CodeStatusServer, []byte(secret)).Encode()
		n.expectNoReply(b)
	})
	t.Run("malformed packets are dropped and the server answers the next", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		good := sign(t, accessRequest(t, "alice", alicePW), secret)
		badLen := bytes.Clone(good)
		badLen[21] = 0xff // the first attribute's length runs past the packet
		for name, b := range map[string][]byte{
			"short":                 {1, 2, 0, 4},
			"length beyond the end": append([]byte{1, 9, 0x10, 0}, make([]byte, 16)...),
			"bad attribute length":  badLen,
			"truncated":             good[:len(good)-3],
			"unknown code":          append([]byte{99, 1, 0, 20}, make([]byte, 16)...),
		} {
			n.send(b)
			if r := n.read(50 * time.Millisecond); r != nil {
				t.Errorf("%s: got a reply", name)
			}
		}
		expect(t, n.exchange(good), radius.CodeAccessAccept, "")
	})
	t.Run("a retransmission gets the cached reply and counts once", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		req := sign(t, accessRequest(t, "dup", "wrong-password-2"), secret)
		n.send(req)
		n.send(req) // while the first is in progress (the reject waits 1s): dropped
		first := n.read(replyWait)
		if first == nil {
			t.Fatal("no reply")
		}
		expect(t, verifyReply(t, first, req, secret), radius.CodeAccessReject, "Wrong user name or password")
		if extra := n.read(noReply); extra != nil {
			t.Fatal("two replies to one request")
		}
		start := time.Now()
		n.send(req) // after the reply: the cached bytes, at once
		again := n.read(replyWait)
		if !bytes.Equal(again, first) {
			t.Fatalf("retransmission got a different reply:\n% x\n% x", again, first)
		}
		if el := time.Since(start); el > 700*time.Millisecond {
			t.Errorf("cached reply took %s, want it without reprocessing", el)
		}
		if got := failures(t, d, "dup"); got != 1 {
			t.Errorf("pwdFailureTime has %d values, want 1", got)
		}
	})
	t.Run("same identifier with a new authenticator is a new request", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		p := accessRequest(t, "newid", "wrong-password-3")
		n.exchange(sign(t, p, secret))
		q := accessRequest(t, "newid", "New-Identifier-7")
		q.Identifier = p.Identifier
		expect(t, n.exchange(sign(t, q, secret)), radius.CodeAccessAccept, "")
	})
}

func TestPAPAccountStates(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := dirdtest.Config(t)
	cfg.Policy.MaxAge = 90 * 24 * time.Hour
	cfg.Policy.ExpireWarning = 14 * 24 * time.Hour
	cfg.Policy.LockoutThreshold = 3
	d := dirdtest.Start(t, cfg, dirdtest.Options{Now: dirdtest.NewClock(now).Now})
	pw := map[string]string{
		"locked": "Behind-Bars-101", "expired": "Old-As-The-Hills-2", "soon": "Nearly-Due-33",
		"lastday": "Last-Day-Here-4", "reset": "Admin-Set-It-5", "victim": "Right-Password-6",
	}
	seed(t, d, pw)
	t.Run("locked by the administrator: rejected, said only with the right password", func(t *testing.T) {
		t.Parallel()
		modify(t, d, "locked", "pwdAccountLockedTime", "000001010000Z")
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "locked", pw["locked"]), secret)), radius.CodeAccessReject, "Your account is locked; contact your administrator")
		expect(t, n.exchange(sign(t, accessRequest(t, "locked", "wrong-password-4"), secret)), radius.CodeAccessReject, "Wrong user name or password")
	})
	t.Run("expired password: rejected, said only with the right password", func(t *testing.T) {
		t.Parallel()
		modify(t, d, "expired", "pwdChangedTime", store.FormatTime(now.Add(-100*24*time.Hour)))
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "expired", "wrong-password-5"), secret)), radius.CodeAccessReject, "Wrong user name or password")
		expect(t, n.exchange(sign(t, accessRequest(t, "expired", pw["expired"]), secret)), radius.CodeAccessReject,
			"Your password has expired; change it in the portal or contact your administrator")
	})
	t.Run("expiring soon: accepted with a warning in days", func(t *testing.T) {
		t.Parallel()
		modify(t, d, "soon", "pwdChangedTime", store.FormatTime(now.Add(-85*24*time.Hour)))
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "soon", pw["soon"]), secret)), radius.CodeAccessAccept, "Your password expires in 5 days")
	})
	t.Run("expiring today: accepted with a warning in hours", func(t *testing.T) {
		t.Parallel()
		modify(t, d, "lastday", "pwdChangedTime", store.FormatTime(now.Add(-90*24*time.Hour+150*time.Minute)))
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "lastday", pw["lastday"]), secret)), radius.CodeAccessAccept, "Your password expires in 3 hours")
	})
	t.Run("set by the administrator: accepted with a request to change it", func(t *testing.T) {
		t.Parallel()
		pw := "Admin-Chose-This-9"
		modify(t, d, "reset", "userPassword", pw)
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "reset", pw), secret)), radius.CodeAccessAccept,
			"Your password was set by an administrator; change it in the portal")
	})
	t.Run("RADIUS failures lock the account for LDAP too", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		for i := range 3 {
			expect(t, n.exchange(sign(t, accessRequest(t, "victim", fmt.Sprintf("wrong-password-%d", 10+i)), secret)),
				radius.CodeAccessReject, "Wrong user name or password")
		}
		if err := ldapBind(t, d, "victim", pw["victim"]); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			t.Errorf("LDAP bind with the right password after 3 RADIUS failures: %v, want invalidCredentials", err)
		}
		expect(t, n.exchange(sign(t, accessRequest(t, "victim", pw["victim"]), secret)), radius.CodeAccessReject, "Your account is locked; contact your administrator")
	})
}

func TestUnknownClientIsDropped(t *testing.T) {
	cfg := dirdtest.Config(t)
	cfg.Radius.Clients[0].Address = "10.9.9.0/24"
	d := dirdtest.Start(t, cfg, dirdtest.Options{})
	seed(t, d, map[string]string{"alice": alicePW})
	n := newNAS(t, d)
	for range 3 {
		n.expectNoReply(sign(t, accessRequest(t, "alice", alicePW), secret))
	}
	waitLog(t, d, `reason="source address is not in radius.clients"`)
	if c := strings.Count(d.Log.String(), "source address is not in radius.clients"); c != 1 {
		t.Errorf("the drop was logged %d times, want once a minute per source", c)
	}
}
