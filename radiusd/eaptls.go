package radiusd

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// The TLS tunnel of PEAP and EAP-TTLS. Both carry TLS records inside EAP
// the way EAP-TLS does (RFC 5216 §3.1, RFC 5281 §9.2): a flags byte (L:
// a 4-byte TLS Message Length follows, M: more fragments follow, S:
// start; the low three bits are the method's version), then a fragment
// of the TLS data. Each fragment is acknowledged by an empty message of
// the other side.
//
// Go's crypto/tls is driven by a goroutine per conversation over an
// in-memory net.Conn: the RADIUS handler gives it the peer's whole TLS
// message and takes back what it wrote once it waits for the next one.
// The method's inner authentication (peap.go, ttls.go) runs on the same
// goroutine, as straight-line code over the tunnel.

// EAP-TLS flags.
const (
	tlsFlagLength  = 0x80
	tlsFlagMore    = 0x40
	tlsFlagStart   = 0x20
	tlsVersionBits = 0x07
)

// Sizes. FreeRADIUS's fragment_size defaults to 1024 bytes of TLS data;
// 1020 plus the EAP and flag headers stays well inside a 1500-byte
// Ethernet frame. A TLS message from the peer (a certificate chain in
// later EAP-TLS, AVPs here) is bounded by maxTLSMessage.
const (
	maxFragment   = 1020
	minFragment   = 64
	eapTLSHeader  = 4 + 1 + 1 + 4 // EAP header, Type, flags, TLS Message Length
	maxTLSMessage = 64 << 10
	mskLength     = 64
)

// errTunnelClosed is what the tunnel's goroutine reads once the
// conversation is over.
var errTunnelClosed = errors.New("EAP conversation closed")

// tlsStart is the type data of a PEAP or EAP-TTLS Start (version 0).
func tlsStart(typ byte) []byte { return []byte{tlsFlagStart} }

// innerFunc is a method's inner authentication, run on the tunnel's
// goroutine once the TLS handshake is done and the keys are exported.
type innerFunc func(ctx context.Context, t *tunnel) eapStep

// tlsMethod is PEAP or EAP-TTLS: fragmentation both ways around a tunnel.
type tlsMethod struct {
	s     *Server
	c     *conversation
	typ   byte
	log   *slog.Logger
	inner innerFunc

	// in reassembles the peer's fragments; inTotal is the TLS Message
	// Length announced (0: none).
	in      []byte
	inTotal int
	// out is what is left to send of our current message; outFirst
	// that none of it was sent yet.
	out      []byte
	outFirst bool

	tun *tunnel
}

func (s *Server) newTLSMethod(c *conversation) *tlsMethod {
	m := &tlsMethod{s: s, c: c, typ: c.typ, log: c.log.With("eap_method", methodName(c.typ))}
	switch c.typ {
	case eapTypePEAP:
		m.inner = s.peapInner
	default:
		m.inner = s.ttlsInner
	}
	m.tun = newTunnel(s.ctx, s.tlsConfig, m.typ, m.log, m.inner)
	m.tun.client, m.tun.outer = c.client, c.outer
	return m
}

func methodName(typ byte) string {
	switch typ {
	case eapTypePEAP:
		return "peap"
	case eapTypeTTLS:
		return "ttls"
	}
	return fmt.Sprint(typ)
}

func (m *tlsMethod) close() { m.tun.close() }

func (m *tlsMethod) fail(msg string, args ...any) eapStep {
	m.log.Warn("radius EAP rejected: "+msg, args...)
	return eapStep{done: true}
}

// respond handles one EAP-Response of the method.
func (m *tlsMethod) respond(ctx context.Context, data []byte) eapStep {
	if len(data) < 1 {
		return m.fail("truncated EAP-TLS message (no flags byte)")
	}
	flags, body := data[0], data[1:]
	if v := flags & tlsVersionBits; v != 0 {
		return m.fail("the peer asks for a method version other than 0", "version", v)
	}
	if flags&tlsFlagLength != 0 {
		if len(body) < 4 {
			return m.fail("truncated EAP-TLS message (L flag without the TLS Message Length)")
		}
		total := int(binary.BigEndian.Uint32(body))
		body = body[4:]
		if total > maxTLSMessage || total < len(body) {
			return m.fail("bad TLS Message Length", "length", total, "max", maxTLSMessage)
		}
		if m.in == nil {
			m.inTotal = total
		}
	}
	if len(m.out) > 0 {
		if len(body) != 0 || flags&tlsFlagMore != 0 {
			return m.fail("the peer sent data while the server was sending fragments (out of order)")
		}
		return eapStep{request: m.nextFragment()}
	}
	if len(m.in)+len(body) > maxTLSMessage {
		return m.fail("TLS message from the peer too long", "max", maxTLSMessage)
	}
	m.in = append(m.in, body...)
	if flags&tlsFlagMore != 0 {
		return eapStep{request: []byte{0}} // acknowledge the fragment
	}
	if m.inTotal > 0 && len(m.in) != m.inTotal {
		return m.fail("TLS message shorter or longer than its TLS Message Length", "length", m.inTotal, "got", len(m.in))
	}
	msg := m.in
	m.in, m.inTotal = nil, 0
	out, done, step := m.tun.exchange(ctx, msg)
	if done {
		return step
	}
	m.out, m.outFirst = out, true
	return eapStep{request: m.nextFragment()}
}

// fragmentSize is the TLS data per EAP-Request: maxFragment, less when
// the access point's Framed-MTU is smaller.
func (m *tlsMethod) fragmentSize() int {
	size := maxFragment
	if mtu := m.c.mtu; mtu > 0 && mtu-eapTLSHeader < size {
		size = max(mtu-eapTLSHeader, minFragment)
	}
	return size
}

// nextFragment takes the next fragment of m.out as type data; an empty
// out gives an empty message (an acknowledgement, or "your turn").
func (m *tlsMethod) nextFragment() []byte {
	if len(m.out) == 0 {
		return []byte{0}
	}
	n := min(len(m.out), m.fragmentSize())
	b := make([]byte, 1, 5+n)
	if m.outFirst {
		// L on the first fragment of every message, as FreeRADIUS's
		// include_length = yes: some peers want it even unfragmented.
		b[0] |= tlsFlagLength
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.out)))
		m.outFirst = false
	}
	if n < len(m.out) {
		b[0] |= tlsFlagMore
	}
	b = append(b, m.out[:n]...)
	m.out = m.out[n:]
	return b
}

// tunnel is the server end of one TLS connection and the goroutine that
// runs it.
type tunnel struct {
	client  *client // for authorisation
	outer   string  // the outer identity, for logs
	conn    *pipeConn
	tls     *tls.Conn
	typ     byte
	log     *slog.Logger
	inner   innerFunc
	ctx     context.Context
	cancel  context.CancelFunc
	started bool
	done    chan struct{}
	result  eapStep // set before done is closed
	msk     []byte  // exported once the handshake is done
}

func newTunnel(parent context.Context, cfg *tls.Config, typ byte, log *slog.Logger, inner innerFunc) *tunnel {
	ctx, cancel := context.WithTimeout(parent, 2*eapTimeout)
	c := newPipeConn()
	return &tunnel{conn: c, tls: tls.Server(c, cfg), typ: typ, log: log, inner: inner, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// exchange gives the goroutine the peer's TLS message and returns what
// it wrote once it waits for the peer again; done reports that it
// finished instead, with step the end of the conversation.
func (t *tunnel) exchange(ctx context.Context, in []byte) (out []byte, done bool, step eapStep) {
	t.conn.push(in)
	if !t.started {
		t.started = true
		go t.run()
	} else {
		select {
		case t.conn.turn <- struct{}{}:
		case <-t.done:
			return nil, true, t.result
		}
	}
	select {
	case <-t.conn.yield:
		return t.conn.take(), false, eapStep{}
	case <-t.done:
		return nil, true, t.result
	case <-ctx.Done():
		t.log.Warn("radius EAP rejected: the tunnel did not answer in time", "err", ctx.Err().Error())
		t.close()
		return nil, true, eapStep{done: true}
	}
}

// close ends the goroutine (at once if it waits for the peer, or when
// its policy call returns).
func (t *tunnel) close() {
	t.cancel()
	t.conn.Close()
}

func (t *tunnel) run() {
	defer close(t.done)
	defer func() {
		if v := recover(); v != nil {
			t.log.Error("radius EAP tunnel panicked", "panic", fmt.Sprint(v))
			t.result = eapStep{done: true}
		}
	}()
	t.result = t.serve()
	t.result.done = true
	if !t.result.ok {
		t.result.msk = nil
	}
}

func (t *tunnel) serve() eapStep {
	if err := t.tls.HandshakeContext(t.ctx); err != nil {
		if !errors.Is(err, errTunnelClosed) && t.ctx.Err() == nil {
			t.log.Warn("radius EAP rejected: TLS handshake failed", "err", err.Error())
		}
		return eapStep{}
	}
	cs := t.tls.ConnectionState()
	msk, err := exportMSK(cs, t.typ)
	if err != nil {
		// Go exports keys from TLS 1.2 only with Extended Master Secret
		// (RFC 7627); without keys the access point cannot protect the
		// link, so such a peer fails here, before any password is
		// checked.
		t.log.Warn("radius EAP rejected: no session keys from this TLS connection (a TLS 1.2 peer without Extended Master Secret; update the supplicant or enable TLS 1.3)",
			"tls_version", tls.VersionName(cs.Version), "err", err.Error())
		return eapStep{}
	}
	t.msk = msk
	t.log.Debug("radius EAP TLS tunnel established", "tls_version", tls.VersionName(cs.Version), "cipher", tls.CipherSuiteName(cs.CipherSuite))
	step := t.inner(t.ctx, t)
	step.msk = t.msk
	return step
}

// exportMSK derives the 64-byte Master Session Key. TLS 1.2 uses the PRF
// with the method's label over client and server random (PEAPv0:
// "client EAP encryption", draft-josefsson-pppext-eap-tls-eap; EAP-TTLS:
// "ttls keying material", RFC 5281 §8). TLS 1.3 uses the exporter
// (RFC 9427 §2.1 and §2.3/2.4 ...): see msk13 for the label.
func exportMSK(cs tls.ConnectionState, typ byte) ([]byte, error) {
	var label string
	var context []byte
	switch {
	case cs.Version >= tls.VersionTLS13:
		label, context = tls13KeyLabel(typ)
	case typ == eapTypeTTLS:
		label = "ttls keying material"
	default:
		label = "client EAP encryption"
	}
	// 128 bytes (MSK and EMSK) are asked for, as the TLS 1.3 exporter's
	// output depends on the length asked; the MSK is the first 64.
	km, err := cs.ExportKeyingMaterial(label, context, 2*mskLength)
	if err != nil {
		return nil, err
	}
	return km[:mskLength], nil
}

// tls13KeyLabel is the exporter label and context of a TLS 1.3 tunnel:
// RFC 9427 §2.1: "EXPORTER_EAP_TLS_Key_Material" with the one-byte EAP
// Type as context.
func tls13KeyLabel(typ byte) (string, []byte) {
	return "EXPORTER_EAP_TLS_Key_Material", []byte{typ}
}

// readApp waits for the peer's next application data (an inner EAP
// message, or AVPs) and returns it.
func (t *tunnel) readApp() ([]byte, error) {
	buf := make([]byte, 16<<10)
	n, err := t.tls.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// writeApp sends application data to the peer (with the next reply).
func (t *tunnel) writeApp(b []byte) error {
	_, err := t.tls.Write(b)
	return err
}

// awaitPeer ends the server's turn with what was written so far and
// waits for the peer's next message (an acknowledgement).
func (t *tunnel) awaitPeer() error { return t.conn.handBack() }

// pipeConn is the in-memory net.Conn under the TLS server. The RADIUS
// handler and the tunnel's goroutine take turns: the handler pushes the
// peer's bytes and hands over with turn; the goroutine reads them, writes
// its answer, and hands back with yield when it needs more.
type pipeConn struct {
	mu  sync.Mutex // guards in, out
	in  []byte
	out []byte

	turn      chan struct{}
	yield     chan struct{}
	closing   chan struct{}
	closeOnce sync.Once
}

func newPipeConn() *pipeConn {
	return &pipeConn{turn: make(chan struct{}), yield: make(chan struct{}), closing: make(chan struct{})}
}

// pending reports whether output waits to be sent.
func (c *pipeConn) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out) > 0
}

func (c *pipeConn) push(b []byte) {
	c.mu.Lock()
	c.in = append(c.in, b...)
	c.mu.Unlock()
}

func (c *pipeConn) take() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.out
	c.out = nil
	return b
}

// handBack gives the turn to the handler and waits for the next one.
func (c *pipeConn) handBack() error {
	select {
	case c.yield <- struct{}{}:
	case <-c.closing:
		return errTunnelClosed
	}
	select {
	case <-c.turn:
		return nil
	case <-c.closing:
		return errTunnelClosed
	}
}

func (c *pipeConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.in) > 0 {
			n := copy(p, c.in)
			c.in = c.in[n:]
			if len(c.in) == 0 {
				c.in = nil // let the message's bytes go
			}
			c.mu.Unlock()
			return n, nil
		}
		c.mu.Unlock()
		if err := c.handBack(); err != nil {
			return 0, err
		}
	}
}

func (c *pipeConn) Write(p []byte) (int, error) {
	select {
	case <-c.closing:
		return 0, errTunnelClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out)+len(p) > maxTLSMessage {
		return 0, errors.New("TLS output too long for one EAP message")
	}
	c.out = append(c.out, p...)
	return len(p), nil
}

func (c *pipeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closing) })
	return nil
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "eap" }
func (pipeAddr) String() string  { return "eap" }

func (c *pipeConn) LocalAddr() net.Addr              { return pipeAddr{} }
func (c *pipeConn) RemoteAddr() net.Addr             { return pipeAddr{} }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }
