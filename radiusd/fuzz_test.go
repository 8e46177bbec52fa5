package radiusd

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/microsoft"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

const testSecret = "testing123"

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestServer is a Server over an in-memory directory holding alice,
// answering 127.0.0.0/8 with testSecret, logging to logs.
func newTestServer(t testing.TB, logs io.Writer) *Server {
	t.Helper()
	ctx := context.Background()
	dir, err := store.Open(ctx, memkv.New(), store.Options{BaseDN: "dc=example,dc=com"})
	if err != nil {
		t.Fatal(err)
	}
	pc := policy.Config{
		MinLength: 8, MaxLength: 128, Hash: policy.SchemeArgon2id,
		Argon2Memory: 7168, Argon2Time: 1, Argon2Threads: 1,
		NTHash: true, // so that MS-CHAPv2 requests reach the NT hash check
	}
	door, err := policy.New(dir, pc, policy.Admin{DN: "cn=admin,dc=example,dc=com", Password: "admin-secret"},
		policy.Options{SealKey: bytes.Repeat([]byte{7}, policy.SealKeySize)})
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := store.ParseDN("cn=admin,dc=example,dc=com")
	for _, e := range []struct{ dn, oc string }{
		{"ou=people,dc=example,dc=com", "organizationalUnit"},
		{"uid=alice,ou=people,dc=example,dc=com", "inetOrgPerson"},
	} {
		dn, _ := store.ParseDN(e.dn)
		entry := &store.Entry{DN: dn}
		entry.Set("objectClass", e.oc)
		if e.oc == "inetOrgPerson" {
			entry.Set("uid", "alice")
			entry.Set("cn", "Alice")
			entry.Set("sn", "Example")
			entry.Set("userPassword", "Wonderland-2026")
		} else {
			entry.Set("ou", "people")
		}
		if err := door.Add(ctx, admin, entry); err != nil {
			t.Fatalf("adding %s: %v", e.dn, err)
		}
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{Listen: "127.0.0.1:0", Clients: []Client{{Name: "local", Address: "127.0.0.0/8", Secret: testSecret}}}
	s, err := New(cfg, door, dir, log, Options{CertDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// panicWatch is a log sink that keeps only whether a panic was logged, so
// that a long fuzzing run does not accumulate its log.
type panicWatch struct {
	mu       sync.Mutex
	panicked string
}

func (w *panicWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("panicked")) {
		w.mu.Lock()
		w.panicked = string(p)
		w.mu.Unlock()
	}
	return len(p), nil
}

func (w *panicWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.panicked
}

// discardConn is a PacketConn that drops what is written to it.
type discardConn struct{ net.PacketConn }

func (discardConn) WriteTo(b []byte, _ net.Addr) (int, error) { return len(b), nil }

// resign returns b with a valid Message-Authenticator (added when it has
// none), so the fuzzer reaches the handlers behind the check; nil when b
// has no packet structure to sign.
func resign(b []byte) []byte {
	if len(b) < 20 {
		return nil
	}
	l := packetLength(b)
	if l < 20 || l > len(b) {
		return nil
	}
	p := bytes.Clone(b[:l])
	off, err := messageAuthenticatorOffset(p)
	if err != nil {
		return nil
	}
	if off < 0 {
		if len(p)+2+authenticatorLen > maxPacket {
			return nil
		}
		p = append(p, 80, 2+authenticatorLen)
		off = len(p)
		p = append(p, make([]byte, authenticatorLen)...)
		binary.BigEndian.PutUint16(p[2:4], uint16(len(p)))
	}
	copy(p[off:], messageAuthenticator(p, off, []byte(testSecret)))
	return p
}

// FuzzHandlePacket feeds datagrams, as they are and re-signed, through
// the whole handling of a packet (admission, the handlers, the reply's
// encoding) and requires that nothing panics and that every reply is a
// well-formed packet with Message-Authenticator first.
func FuzzHandlePacket(f *testing.F) {
	logs := &panicWatch{}
	s := newTestServer(f, logs)
	c := &conn{pc: discardConn{}, cache: newReplyCache()}
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{1}, 20))
	// An MS-CHAPv2 request (MS-CHAP-Challenge, MS-CHAP2-Response), so the
	// fuzzer starts inside mschapradius.go.
	ms := radius.New(radius.CodeAccessRequest, []byte(testSecret))
	rfc2865.UserName_SetString(ms, "alice")
	microsoft.MSCHAPChallenge_Add(ms, bytes.Repeat([]byte{0x11}, 16))
	microsoft.MSCHAP2Response_Add(ms, append([]byte{9, 0}, bytes.Repeat([]byte{0x22}, 48)...))
	if b, err := ms.MarshalBinary(); err == nil {
		f.Add(resign(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, pkt := range [][]byte{b, resign(b)} {
			if pkt == nil {
				continue
			}
			r := s.admit(c, pkt, src, time.Now())
			if r == nil {
				continue
			}
			s.slots <- struct{}{}
			out := s.decide(r)
			c.cache.forget(r.key, r.entry)
			if p := logs.String(); p != "" {
				t.Fatalf("handler panicked:\n%s", p)
			}
			if out.silent {
				continue
			}
			reply, err := encodeReply(out.code, r.pkt, s.replyAttrs(out), r.client.secret)
			if err != nil {
				continue // a request so large its echoed Proxy-State does not fit
			}
			if _, err := radius.Parse(reply, []byte(testSecret)); err != nil {
				t.Fatalf("reply does not parse: %v", err)
			}
			if off, err := messageAuthenticatorOffset(reply); err != nil || off != 22 {
				t.Fatalf("reply's Message-Authenticator at %d (%v), want first", off, err)
			}
		}
	})
}
