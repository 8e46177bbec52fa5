package radiusd_test

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"github.com/dird/dird/internal/dirdtest"
)

// eapRequest is an Access-Request carrying msg as EAP-Message attributes
// of at most chunk bytes each (253 when 0), with state when not nil.
func eapRequest(t *testing.T, msg []byte, chunk int, state []byte) *radius.Packet {
	t.Helper()
	if chunk == 0 {
		chunk = 253
	}
	p := radius.New(radius.CodeAccessRequest, []byte(secret))
	rfc2865.UserName_SetString(p, "anonymous")
	rfc2865.NASIdentifier_SetString(p, "test-ap")
	for len(msg) > 0 {
		n := min(len(msg), chunk)
		p.Add(rfc2869.EAPMessage_Type, radius.Attribute(msg[:n]))
		msg = msg[n:]
	}
	if state != nil {
		rfc2865.State_Set(p, state)
	}
	return p
}

// eapIdentity is an EAP-Response/Identity with identifier id.
func eapIdentity(id byte, identity string) []byte {
	b := []byte{2, id, 0, 0, 1}
	b = append(b, identity...)
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

// replyEAP joins the EAP-Message attributes of a reply.
func replyEAP(p *radius.Packet) []byte {
	var b []byte
	for _, a := range p.Attributes {
		if a.Type == rfc2869.EAPMessage_Type {
			b = append(b, a.Attribute...)
		}
	}
	return b
}

// expectEAPFailure checks an Access-Reject with EAP-Failure for id and no
// Reply-Message (RFC 3579 §2.6.5).
func expectEAPFailure(t *testing.T, p *radius.Packet, id byte) {
	t.Helper()
	if p.Code != radius.CodeAccessReject {
		t.Fatalf("reply %s, want Access-Reject", p.Code)
	}
	if got := replyEAP(p); !bytes.Equal(got, []byte{4, id, 0, 4}) {
		t.Errorf("EAP-Message % x, want EAP-Failure % x", got, []byte{4, id, 0, 4})
	}
	if _, ok := p.Lookup(rfc2865.ReplyMessage_Type); ok {
		t.Error("Reply-Message beside EAP-Message (RFC 3579 §2.6.5 forbids it)")
	}
}

// startEAP sends an Identity and returns the PEAP Start challenge's State
// and EAP identifier.
func startEAP(t *testing.T, n *nas) (state []byte, id byte) {
	t.Helper()
	p := n.exchange(sign(t, eapRequest(t, eapIdentity(7, "anonymous"), 0, nil), secret))
	if p.Code != radius.CodeAccessChallenge {
		t.Fatalf("reply %s, want Access-Challenge", p.Code)
	}
	msg := replyEAP(p)
	// EAP-Request, id 8, length 6, type PEAP (25), flags Start.
	if !bytes.Equal(msg, []byte{1, 8, 0, 6, 25, 0x20}) {
		t.Fatalf("challenge EAP-Message % x, want a PEAP Start", msg)
	}
	st, err := rfc2865.State_Lookup(p)
	if err != nil || len(st) < 16 {
		t.Fatalf("challenge State %x (%v), want 16 or more random bytes", st, err)
	}
	return st, 8
}

func TestEAPBadInput(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	seed(t, d, map[string]string{"alice": alicePW})
	t.Run("an Identity split over two EAP-Message attributes starts a conversation", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		long := strings.Repeat("a", 300) + "@example.com"
		p := n.exchange(sign(t, eapRequest(t, eapIdentity(1, long), 200, nil), secret))
		if p.Code != radius.CodeAccessChallenge || replyEAP(p)[0] != 1 {
			t.Fatalf("reply %s with EAP % x, want Access-Challenge with an EAP-Request", p.Code, replyEAP(p))
		}
	})
	t.Run("truncated EAP is rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		p := n.exchange(sign(t, eapRequest(t, []byte{2, 1, 0}, 0, nil), secret))
		if p.Code != radius.CodeAccessReject {
			t.Fatalf("reply %s, want Access-Reject", p.Code)
		}
		waitLog(t, d, "radius EAP rejected: malformed EAP-Message")
	})
	t.Run("an EAP Length beyond the EAP-Message is rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		b := eapIdentity(2, "anonymous")
		b[3] += 40
		p := n.exchange(sign(t, eapRequest(t, b, 0, nil), secret))
		if p.Code != radius.CodeAccessReject {
			t.Fatalf("reply %s, want Access-Reject", p.Code)
		}
		waitLog(t, d, "EAP Length field says")
	})
	t.Run("a conversation must start with an Identity", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		// An EAP-Response of type PEAP with no State.
		expectEAPFailure(t, n.exchange(sign(t, eapRequest(t, []byte{2, 3, 0, 6, 25, 0}, 0, nil), secret)), 3)
		waitLog(t, d, "a conversation must start with EAP-Response/Identity")
	})
	t.Run("an unknown State is rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		expectEAPFailure(t, n.exchange(sign(t, eapRequest(t, []byte{2, 4, 0, 6, 25, 0}, 0, bytes.Repeat([]byte{9}, 18)), secret)), 4)
		waitLog(t, d, "unknown or expired State")
	})
	t.Run("a response with the wrong EAP identifier is rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		st, id := startEAP(t, n)
		wrong := id + 5
		expectEAPFailure(t, n.exchange(sign(t, eapRequest(t, []byte{2, wrong, 0, 6, 25, 0}, 0, st), secret)), wrong)
		waitLog(t, d, "EAP Identifier out of order")
		// The conversation is over: even the right identifier is refused.
		expectEAPFailure(t, n.exchange(sign(t, eapRequest(t, []byte{2, id, 0, 6, 25, 0}, 0, st), secret)), id)
	})
	t.Run("an EAP-TLS message with a bad TLS Message Length is rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		st, id := startEAP(t, n)
		// Flags L, length 2 but 6 bytes of data follow.
		msg := []byte{2, id, 0, 0, 25, 0x80, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6}
		binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
		expectEAPFailure(t, n.exchange(sign(t, eapRequest(t, msg, 0, st), secret)), id)
		waitLog(t, d, "bad TLS Message Length")
	})
	t.Run("an EAP-TLS message without its flags byte is rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		st, id := startEAP(t, n)
		expectEAPFailure(t, n.exchange(sign(t, eapRequest(t, []byte{2, id, 0, 5, 25}, 0, st), secret)), id)
		waitLog(t, d, "truncated EAP-TLS message")
	})
	t.Run("garbage instead of a ClientHello fails the handshake", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		st, id := startEAP(t, n)
		msg := append([]byte{2, id, 0, 0, 25, 0}, bytes.Repeat([]byte{0x16, 3, 3, 0, 4, 1, 2, 3, 4}, 3)...)
		binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
		p := n.exchange(sign(t, eapRequest(t, msg, 0, st), secret))
		// The TLS server answers with an alert, then the next round
		// ends the conversation; or it ends at once.
		for range 3 {
			if p.Code == radius.CodeAccessReject {
				break
			}
			e := replyEAP(p)
			st, _ = rfc2865.State_Lookup(p)
			ack := []byte{2, e[1], 0, 6, 25, 0}
			p = n.exchange(sign(t, eapRequest(t, ack, 0, st), secret))
		}
		if p.Code != radius.CodeAccessReject {
			t.Fatalf("reply %s, want Access-Reject", p.Code)
		}
		waitLog(t, d, "TLS handshake failed")
	})
	t.Run("a Nak for methods not served is rejected", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		st, id := startEAP(t, n)
		// Nak asking for EAP-TLS (13) and EAP-MD5 (4).
		expectEAPFailure(t, n.exchange(sign(t, eapRequest(t, []byte{2, id, 0, 7, 3, 13, 4}, 0, st), secret)), id)
		waitLog(t, d, "the peer wants none of PEAP and EAP-TTLS")
	})
	t.Run("a Nak for EAP-TTLS switches the method", func(t *testing.T) {
		t.Parallel()
		n := newNAS(t, d)
		st, id := startEAP(t, n)
		p := n.exchange(sign(t, eapRequest(t, []byte{2, id, 0, 6, 3, 21}, 0, st), secret))
		if got := replyEAP(p); p.Code != radius.CodeAccessChallenge || !bytes.Equal(got, []byte{1, id + 1, 0, 6, 21, 0x20}) {
			t.Fatalf("reply %s with EAP % x, want an EAP-TTLS Start", p.Code, got)
		}
	})
	t.Run("PAP is still answered after all this", func(t *testing.T) {
		n := newNAS(t, d)
		expect(t, n.exchange(sign(t, accessRequest(t, "alice", alicePW), secret)), radius.CodeAccessAccept, "")
	})
}

// accountingRequest is an Accounting-Request with its Request
// Authenticator computed with key (RFC 2866 §3).
func accountingRequest(t *testing.T, status rfc2866.AcctStatusType, session, key string) []byte {
	t.Helper()
	p := radius.New(radius.CodeAccountingRequest, []byte(key))
	rfc2865.UserName_SetString(p, "alice")
	rfc2866.AcctStatusType_Set(p, status)
	rfc2866.AcctSessionID_SetString(p, session)
	rfc2865.NASIdentifier_SetString(p, "test-ap")
	b, err := p.Encode() // layeh computes the accounting Request Authenticator
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// acctNAS is a client of the accounting port.
func acctNAS(t *testing.T, d *dirdtest.Dird) *nas {
	t.Helper()
	if d.RadiusAcctAddr == "" {
		t.Fatal("dird has no RADIUS accounting listener (radius.accounting_listen auto)")
	}
	ra, err := net.ResolveUDPAddr("udp", d.RadiusAcctAddr)
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

func TestAccounting(t *testing.T) {
	d := dirdtest.Start(t, dirdtest.Config(t), dirdtest.Options{})
	t.Run("a Start is answered and logged", func(t *testing.T) {
		n := acctNAS(t, d)
		req := accountingRequest(t, rfc2866.AcctStatusType_Value_Start, "sess-0001", secret)
		n.send(req)
		b := n.read(replyWait)
		if b == nil {
			t.Fatal("no Accounting-Response")
		}
		if !radius.IsAuthenticResponse(b, req, []byte(secret)) {
			t.Fatal("Accounting-Response's Response Authenticator does not verify")
		}
		if radius.Code(b[0]) != radius.CodeAccountingResponse {
			t.Fatalf("reply code %d, want Accounting-Response", b[0])
		}
		waitLog(t, d, `msg="radius accounting"`)
		waitLog(t, d, `user=alice status=Start session_id=sess-0001`)
	})
	t.Run("a retransmission gets the same reply", func(t *testing.T) {
		n := acctNAS(t, d)
		req := accountingRequest(t, rfc2866.AcctStatusType_Value_Stop, "sess-0002", secret)
		n.send(req)
		first := n.read(replyWait)
		n.send(req)
		again := n.read(replyWait)
		if first == nil || !bytes.Equal(first, again) {
			t.Fatalf("retransmission got % x, first reply % x", again, first)
		}
		if c := strings.Count(d.Log.String(), "session_id=sess-0002"); c != 1 {
			t.Errorf("the Stop was logged %d times, want once", c)
		}
	})
	t.Run("a wrong shared secret is dropped", func(t *testing.T) {
		n := acctNAS(t, d)
		n.expectNoReply(accountingRequest(t, rfc2866.AcctStatusType_Value_Start, "sess-0003", "not-the-secret"))
		waitLog(t, d, "wrong Request Authenticator on Accounting-Request")
	})
	t.Run("a tampered request is dropped", func(t *testing.T) {
		n := acctNAS(t, d)
		b := accountingRequest(t, rfc2866.AcctStatusType_Value_Start, "sess-0004", secret)
		b[len(b)-1] ^= 1
		n.expectNoReply(b)
	})
	t.Run("an Access-Request on the accounting port is dropped", func(t *testing.T) {
		n := acctNAS(t, d)
		n.expectNoReply(sign(t, accessRequest(t, "alice", alicePW), secret))
		waitLog(t, d, "not an Accounting-Request on the accounting port")
	})
	t.Run("an Accounting-Request on the authentication port is dropped", func(t *testing.T) {
		n := newNAS(t, d)
		n.expectNoReply(accountingRequest(t, rfc2866.AcctStatusType_Value_Start, "sess-0005", secret))
		waitLog(t, d, "Accounting-Request on the authentication port")
	})
}
