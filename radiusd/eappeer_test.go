package radiusd_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/vendors/microsoft"

	"github.com/dird/dird/internal/dirdtest"
)

// A Go EAP peer, written for these tests from RFC 3579, RFC 5216 §3
// (EAP-TLS framing), PEAPv0 and RFC 5281, independently of radiusd's
// code: layeh.com/radius carries the packets, crypto/tls is the
// supplicant's TLS, and the keys the server sends are checked against
// the ones the peer derives from its own end of the tunnel.

// eapPeer is the supplicant and its access point in one. It is the
// net.Conn under the peer's tls.Client: writes are buffered, and a read
// with nothing buffered sends what was written as one EAP-TLS message
// (fragmented when long) and takes the server's next message.
type eapPeer struct {
	t     *testing.T
	n     *nas
	typ   byte // EAP method
	state []byte
	reqID byte // the last EAP-Request's identifier
	in    []byte
	out   []byte
	// req and reply are the last Access-Request and its answer; done
	// once the answer ended the conversation.
	req, reply *radius.Packet
	done       bool
}

// respond sends one EAP-Response.
func (e *eapPeer) respond(typ byte, data []byte) {
	e.t.Helper()
	msg := append([]byte{2, e.reqID, 0, 0, typ}, data...)
	binary.BigEndian.PutUint16(msg[2:], uint16(len(msg)))
	e.req = eapRequest(e.t, msg, 0, e.state)
	e.reply = e.n.exchange(sign(e.t, e.req, secret))
	if e.reply.Code != radius.CodeAccessChallenge {
		e.done = true
		return
	}
	st, err := rfc2865.State_Lookup(e.reply)
	if err != nil {
		e.t.Fatal("Access-Challenge without State")
	}
	e.state = st
	req := replyEAP(e.reply)
	if len(req) < 5 || req[0] != 1 {
		e.t.Fatalf("Access-Challenge without an EAP-Request: % x", req)
	}
	e.reqID = req[1]
}

// start sends the Identity and, for EAP-TTLS, the Nak that asks for it.
func (e *eapPeer) start() {
	e.t.Helper()
	e.respond(1, []byte("anonymous"))
	if e.typ == 21 {
		e.respond(3, []byte{21})
	}
	if got := replyEAP(e.reply); e.done || got[4] != e.typ || got[5]&0x20 == 0 {
		e.t.Fatalf("no Start of method %d: % x", e.typ, got)
	}
}

// flush sends the buffered TLS bytes in fragments of 300 (L on the
// first, M on all but the last; the server acknowledges each) and takes
// the server's answer, acknowledging its fragments.
func (e *eapPeer) flush() {
	e.t.Helper()
	data := e.out
	e.out = nil
	for first := true; ; first = false {
		n := min(len(data), 300)
		frag := []byte{0}
		if first && n < len(data) {
			frag[0] |= 0x80
			frag = binary.BigEndian.AppendUint32(frag, uint32(len(data)))
		}
		if n < len(data) {
			frag[0] |= 0x40
		}
		e.respond(e.typ, append(frag, data[:n]...))
		data = data[n:]
		if len(data) == 0 {
			break
		}
		if e.done || !bytes.Equal(replyEAP(e.reply)[5:], []byte{0}) {
			e.t.Fatalf("server did not acknowledge a fragment: % x", replyEAP(e.reply))
		}
	}
	for !e.done {
		d := replyEAP(e.reply)[5:]
		flags, body := d[0], d[1:]
		if flags&0x80 != 0 {
			body = body[4:]
		}
		e.in = append(e.in, body...)
		if flags&0x40 == 0 {
			return
		}
		e.respond(e.typ, []byte{0})
	}
}

func (e *eapPeer) Read(b []byte) (int, error) {
	for len(e.in) == 0 {
		if e.done {
			return 0, io.EOF
		}
		e.flush()
	}
	n := copy(b, e.in)
	e.in = e.in[n:]
	return n, nil
}

func (e *eapPeer) Write(b []byte) (int, error) { e.out = append(e.out, b...); return len(b), nil }

func (e *eapPeer) Close() error                     { return nil }
func (e *eapPeer) LocalAddr() net.Addr              { return &net.UDPAddr{} }
func (e *eapPeer) RemoteAddr() net.Addr             { return &net.UDPAddr{} }
func (e *eapPeer) SetDeadline(time.Time) error      { return nil }
func (e *eapPeer) SetReadDeadline(time.Time) error  { return nil }
func (e *eapPeer) SetWriteDeadline(time.Time) error { return nil }

// peerTLS opens the tunnel, trusting only the server's self-signed
// certificate from the store's directory.
func peerTLS(t *testing.T, e *eapPeer, certDir string, version uint16) *tls.Conn {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(certDir, "eap-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	host, _ := os.Hostname()
	if host == "" {
		host = "dird"
	}
	c := tls.Client(e, &tls.Config{RootCAs: roots, ServerName: host, MinVersion: version, MaxVersion: version})
	if err := c.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return c
}

// expectKeys checks the Access-Accept's MS-MPPE keys against the MSK the
// peer derives: Recv-Key the first 32 bytes, Send-Key the next 32.
func expectKeys(t *testing.T, e *eapPeer, c *tls.Conn) {
	t.Helper()
	if e.reply.Code != radius.CodeAccessAccept {
		t.Fatalf("reply %s, want Access-Accept", e.reply.Code)
	}
	if got := replyEAP(e.reply); !bytes.Equal(got, []byte{3, e.req.Get(79)[1], 0, 4}) {
		t.Errorf("EAP-Message % x, want EAP-Success", got)
	}
	cs := c.ConnectionState()
	label, ctx := "client EAP encryption", []byte(nil)
	if e.typ == 21 {
		label = "ttls keying material"
	}
	if cs.Version == tls.VersionTLS13 {
		label, ctx = "EXPORTER_EAP_TLS_Key_Material", []byte{e.typ}
	}
	km, err := cs.ExportKeyingMaterial(label, ctx, 128)
	if err != nil {
		t.Fatal(err)
	}
	recv, err1 := microsoft.MSMPPERecvKey_Lookup(e.reply, e.req)
	send, err2 := microsoft.MSMPPESendKey_Lookup(e.reply, e.req)
	if err1 != nil || err2 != nil {
		t.Fatalf("MS-MPPE keys: %v, %v", err1, err2)
	}
	if !bytes.Equal(recv, km[:32]) || !bytes.Equal(send, km[32:64]) {
		t.Errorf("MS-MPPE keys do not match the peer's MSK")
	}
	if rfc2865.UserName_GetString(e.reply) != "alice" {
		t.Errorf("User-Name %q, want the inner identity alice", rfc2865.UserName_GetString(e.reply))
	}
}

// ttlsAVP is a mandatory Diameter AVP (RFC 5281 §10.1), padded.
func ttlsAVP(code, vendor uint32, data []byte) []byte {
	hdr := 8
	flags := byte(0x40)
	if vendor != 0 {
		hdr, flags = 12, 0xc0
	}
	b := binary.BigEndian.AppendUint32(nil, code)
	n := hdr + len(data)
	b = append(b, flags, byte(n>>16), byte(n>>8), byte(n))
	if vendor != 0 {
		b = binary.BigEndian.AppendUint32(b, vendor)
	}
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// readTunnel reads one message from the tunnel.
func readTunnel(t *testing.T, c *tls.Conn) []byte {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("reading the tunnel: %v", err)
	}
	return buf[:n]
}

// peapMSCHAPv2 runs PEAPv0's inner conversation as a peer does and
// returns the MS-CHAPv2 result message the server sent (S=... or E=...).
func peapMSCHAPv2(t *testing.T, e *eapPeer, c *tls.Conn, user, pw string) string {
	t.Helper()
	if got := readTunnel(t, c); !bytes.Equal(got, []byte{1}) {
		t.Fatalf("inner Identity request % x, want a headerless one", got)
	}
	c.Write(append([]byte{1}, user...))
	ch := readTunnel(t, c)
	if len(ch) < 22 || ch[0] != 26 || ch[1] != 1 || ch[5] != 16 {
		t.Fatalf("MSCHAPv2 Challenge % x", ch)
	}
	a := newAttempt(t, user, pw)
	copy(a.authChallenge[:], ch[6:22])
	resp := []byte{26, 2, ch[2], 0, 0, 49}
	resp = append(resp, a.peerChallenge[:]...)
	resp = append(resp, make([]byte, 8)...)
	resp = append(resp, a.ntResponse()...)
	resp = append(append(resp, 0), user...)
	binary.BigEndian.PutUint16(resp[3:], uint16(len(resp)-1))
	c.Write(resp)
	res := readTunnel(t, c)
	if len(res) < 5 || res[0] != 26 {
		t.Fatalf("MSCHAPv2 result % x", res)
	}
	msg := string(res[5:])
	if res[1] == 3 {
		if !strings.HasPrefix(msg, a.authenticatorResponse()) {
			t.Fatalf("MSCHAPv2 Success %q does not prove the server knows the NT hash (want %s)", msg, a.authenticatorResponse())
		}
	}
	c.Write([]byte{26, res[1]}) // acknowledge Success (3) or Failure (4)
	tlv := readTunnel(t, c)
	if len(tlv) != 11 || tlv[0] != 1 || tlv[4] != 33 {
		t.Fatalf("Result TLV request % x", tlv)
	}
	c.Write([]byte{2, tlv[1], 0, 11, 33, 0x80, 3, 0, 2, tlv[9], tlv[10]})
	e.flush()
	return msg
}

func TestEAPGoPeer(t *testing.T) {
	cfg := dirdtest.Config(t)
	cfg.Policy.NTHash = true
	d := dirdtest.Start(t, cfg, dirdtest.Options{})
	seed(t, d, map[string]string{"alice": alicePW})
	for _, v := range []struct {
		name    string
		version uint16
	}{{"TLS 1.2", tls.VersionTLS12}, {"TLS 1.3", tls.VersionTLS13}} {
		t.Run("EAP-TTLS/PAP over "+v.name, func(t *testing.T) {
			e := &eapPeer{t: t, n: newNAS(t, d), typ: 21}
			e.start()
			c := peerTLS(t, e, cfg.Store.Path, v.version)
			c.Write(append(ttlsAVP(1, 0, []byte("alice")), ttlsAVP(2, 0, append([]byte(alicePW), 0, 0, 0))...))
			e.flush()
			expectKeys(t, e, c)
		})
		t.Run("EAP-TTLS/PAP with a wrong password over "+v.name, func(t *testing.T) {
			e := &eapPeer{t: t, n: newNAS(t, d), typ: 21}
			e.start()
			c := peerTLS(t, e, cfg.Store.Path, v.version)
			c.Write(append(ttlsAVP(1, 0, []byte("alice")), ttlsAVP(2, 0, []byte("not-her-password"))...))
			e.flush()
			expectEAPFailure(t, e.reply, e.req.Get(79)[1])
		})
		t.Run("EAP-TTLS/MSCHAPv2 over "+v.name, func(t *testing.T) {
			e := &eapPeer{t: t, n: newNAS(t, d), typ: 21}
			e.start()
			c := peerTLS(t, e, cfg.Store.Path, v.version)
			// RFC 5281 §11.2.4: challenge and Ident come from the tunnel.
			cs := c.ConnectionState()
			ch, err := cs.ExportKeyingMaterial("ttls challenge", nil, 17)
			if err != nil {
				t.Fatal(err)
			}
			a := newAttempt(t, "alice", alicePW)
			copy(a.authChallenge[:], ch[:16])
			resp := append([]byte{ch[16], 0}, a.peerChallenge[:]...)
			resp = append(append(resp, make([]byte, 8)...), a.ntResponse()...)
			avps := append(ttlsAVP(1, 0, []byte("alice")), ttlsAVP(11, 311, ch[:16])...)
			c.Write(append(avps, ttlsAVP(25, 311, resp)...))
			got := readTunnel(t, c)
			want := ttlsAVP(26, 311, append([]byte{ch[16]}, a.authenticatorResponse()...))
			if !bytes.Equal(got, want) {
				t.Fatalf("tunnel answered % x, want MS-CHAP2-Success % x", got, want)
			}
			e.flush() // the acknowledgement
			expectKeys(t, e, c)
		})
		t.Run("PEAP-MSCHAPv2 over "+v.name, func(t *testing.T) {
			e := &eapPeer{t: t, n: newNAS(t, d), typ: 25}
			e.start()
			c := peerTLS(t, e, cfg.Store.Path, v.version)
			peapMSCHAPv2(t, e, c, "alice", alicePW)
			expectKeys(t, e, c)
		})
		t.Run("PEAP-MSCHAPv2 with a wrong password over "+v.name, func(t *testing.T) {
			e := &eapPeer{t: t, n: newNAS(t, d), typ: 25}
			e.start()
			c := peerTLS(t, e, cfg.Store.Path, v.version)
			if msg := peapMSCHAPv2(t, e, c, "alice", "not-her-password"); !strings.HasPrefix(msg, "E=691 R=0 C=") {
				t.Errorf("MSCHAPv2 Failure %q, want E=691", msg)
			}
			expectEAPFailure(t, e.reply, e.req.Get(79)[1])
		})
	}
}
