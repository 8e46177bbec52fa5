package radiusd

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/microsoft"
)

// EAP over RADIUS (RFC 3579). The access point relays each EAP packet in
// EAP-Message attributes of an Access-Request; the server answers with an
// Access-Challenge carrying the next EAP-Request and a State that ties the
// next round to this conversation, and ends with an Access-Accept
// (EAP-Success, with the MPPE keys the access point derives the Wi-Fi keys
// from) or an Access-Reject (EAP-Failure). RFC 3579 §2.6.5 forbids
// Reply-Message beside EAP-Message: nothing here sets one.
//
// A conversation lives in memory only: a server restart ends every
// conversation in progress, and the supplicant simply starts again.

// EAP codes (RFC 3748 §4).
const (
	eapCodeRequest  = 1
	eapCodeResponse = 2
	eapCodeSuccess  = 3
	eapCodeFailure  = 4
)

// EAP method types (RFC 3748 §5, IANA).
const (
	eapTypeIdentity = 1
	eapTypeNak      = 3
	eapTypeTTLS     = 21
	eapTypePEAP     = 25
	eapTypeMSCHAPv2 = 26
	eapTypeTLV      = 33 // PEAP's Extensions method (Result TLV)
)

// Bounds on conversations. FreeRADIUS expires unanswered conversations
// after timer_expire = 60 s and caps them at max_sessions: a flood of
// half-open conversations (an Identity and a ClientHello, then silence)
// then costs bounded memory, and evicts the oldest, not the newest.
//
// A conversation that has reached its TLS handshake holds a goroutine and
// the handshake's state, about 40 KiB; at most maxTunnels of them are
// kept (about 40 MiB), the least recently used evicted first, so a flood
// of abandoned handshakes cannot take much more memory than that.
const (
	eapTimeout       = 60 * time.Second
	maxConversations = 4096
	maxTunnels       = 1024
	// maxRounds bounds the Access-Challenges of one conversation: PEAP
	// with 64-byte fragments of a long certificate chain needs about 80.
	maxRounds   = 200
	stateLength = 18 // random bytes of a State (RFC 3579 suggests 16 or more)
)

// eapPacket is one parsed EAP packet.
type eapPacket struct {
	code byte
	id   byte
	typ  byte   // Request and Response only
	data []byte // the type data, after typ
}

// parseEAP parses one whole EAP packet. Its Length field must match the
// bytes given: RFC 3579 §2.6.3 has the EAP-Message attributes of a
// request hold exactly one EAP packet.
func parseEAP(b []byte) (eapPacket, error) {
	if len(b) < 4 {
		return eapPacket{}, fmt.Errorf("EAP packet of %d bytes is shorter than its 4-byte header", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n != len(b) {
		return eapPacket{}, fmt.Errorf("EAP Length field says %d bytes, the EAP-Message attributes hold %d", n, len(b))
	}
	p := eapPacket{code: b[0], id: b[1]}
	switch p.code {
	case eapCodeRequest, eapCodeResponse:
		if n < 5 {
			return eapPacket{}, errors.New("EAP Request or Response without a Type")
		}
		p.typ, p.data = b[4], b[5:n]
	case eapCodeSuccess, eapCodeFailure:
	default:
		return eapPacket{}, fmt.Errorf("unknown EAP code %d", p.code)
	}
	return p, nil
}

func (p eapPacket) encode() []byte {
	n := 4
	if p.code == eapCodeRequest || p.code == eapCodeResponse {
		n += 1 + len(p.data)
	}
	b := make([]byte, 4, n)
	b[0], b[1] = p.code, p.id
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	if n > 4 {
		b = append(b, p.typ)
		b = append(b, p.data...)
	}
	return b
}

// eapMessage joins the EAP-Message attributes of p in order (RFC 3579
// §3.1: an EAP packet longer than 253 bytes spans several).
func eapMessage(p *radius.Packet) []byte {
	var b []byte
	for _, a := range p.Attributes {
		if a.Type == rfc2869.EAPMessage_Type {
			b = append(b, a.Attribute...)
		}
	}
	return b
}

// eapAttributes splits an EAP packet into EAP-Message attributes of at
// most 253 bytes.
func eapAttributes(msg []byte) radius.Attributes {
	var attrs radius.Attributes
	for len(msg) > 0 {
		n := min(len(msg), 253)
		attrs = append(attrs, &radius.AVP{Type: rfc2869.EAPMessage_Type, Attribute: radius.Attribute(msg[:n])})
		msg = msg[n:]
	}
	return attrs
}

// eapStep is what a method answers to one EAP-Response.
type eapStep struct {
	// request is the type data of the next EAP-Request while the
	// conversation goes on.
	request []byte
	// done ends the conversation: with EAP-Success when ok, else with
	// EAP-Failure.
	done, ok bool
	// msk is the Master Session Key (64 bytes) of a successful TLS
	// method; its halves become MS-MPPE-Recv-Key and MS-MPPE-Send-Key.
	msk []byte
	// user is the inner identity that authenticated (for the log).
	user string
	// attrs are the authorisation attributes for the Access-Accept.
	attrs radius.Attributes
}

// eapMethod is one EAP method's side of a conversation. respond is
// called with the type data of each EAP-Response of the method's type,
// one at a time; close releases what the method holds (a TLS tunnel's
// goroutine) and may be called at any time, also during respond.
type eapMethod interface {
	respond(ctx context.Context, data []byte) eapStep
	close()
}

// conversation is one EAP authentication in progress, keyed by its State.
type conversation struct {
	state  string
	client *client
	outer  string // the outer identity: for logs only, never for authorisation
	log    *slog.Logger

	// busy is held while a packet of the conversation is processed: a
	// second packet arriving meanwhile (not a retransmission, which the
	// duplicate cache catches) is out of order and dropped.
	busy sync.Mutex

	// The fields below are used only by the holder of busy.
	lastID byte // Identifier of the last EAP-Request sent
	typ    byte // the method proposed or running
	rounds int
	mtu    int // largest EAP packet the access point carries (Framed-MTU)

	mu     sync.Mutex // guards method, closed
	method eapMethod  // nil until the peer accepted typ; written under busy too
	closed bool

	// elem, lastUsed and tunneled are guarded by conversations.mu.
	elem     *list.Element
	lastUsed time.Time
	tunneled bool // counted in conversations.tunnels
}

// conversations is the table of open conversations: at most max, each
// dropped after timeout without a packet, the least recently used evicted
// first when full.
type conversations struct {
	log        *slog.Logger
	max        int
	maxTunnels int
	timeout    time.Duration

	mu      sync.Mutex // guards byKey, order, tunnels
	byKey   map[string]*conversation
	order   *list.List // of *conversation, least recently used first
	tunnels int        // conversations with a TLS tunnel
}

func newConversations(log *slog.Logger) *conversations {
	return &conversations{log: log, max: maxConversations, maxTunnels: maxTunnels, timeout: eapTimeout,
		byKey: map[string]*conversation{}, order: list.New()}
}

// admitTunnel counts c among the conversations with a TLS tunnel, first
// evicting the least recently used such conversation when there are
// maxTunnels already. It reports false when c itself is gone.
func (cs *conversations) admitTunnel(c *conversation, now time.Time) bool {
	var evicted []*conversation
	cs.mu.Lock()
	if cs.byKey[c.state] != c {
		cs.mu.Unlock()
		return false
	}
	for e := cs.order.Front(); e != nil && cs.tunnels >= cs.maxTunnels; {
		o := e.Value.(*conversation)
		e = e.Next()
		if !o.tunneled || o == c {
			continue
		}
		cs.removeLocked(o)
		evicted = append(evicted, o)
		cs.log.Warn("radius EAP conversation evicted: too many TLS handshakes open",
			"max", cs.maxTunnels, "client", o.client.name, "outer_identity", o.outer, "idle", now.Sub(o.lastUsed).Round(time.Millisecond).String())
	}
	c.tunneled = true
	cs.tunnels++
	cs.mu.Unlock()
	for _, o := range evicted {
		o.closeMethod()
	}
	return true
}

// add starts tracking c under a new random State, making room first.
func (cs *conversations) add(c *conversation, now time.Time) error {
	var st [stateLength]byte
	if _, err := rand.Read(st[:]); err != nil {
		return fmt.Errorf("drawing a State: %w", err)
	}
	c.state = string(st[:])
	var evicted []*conversation
	cs.mu.Lock()
	evicted = cs.expireLocked(now)
	for len(cs.byKey) >= cs.max {
		old := cs.order.Front().Value.(*conversation)
		cs.removeLocked(old)
		evicted = append(evicted, old)
		cs.log.Warn("radius EAP conversation evicted: too many open conversations",
			"max", cs.max, "client", old.client.name, "outer_identity", old.outer, "idle", now.Sub(old.lastUsed).Round(time.Millisecond).String())
	}
	c.lastUsed = now
	c.elem = cs.order.PushBack(c)
	cs.byKey[c.state] = c
	cs.mu.Unlock()
	for _, o := range evicted {
		o.closeMethod()
	}
	return nil
}

// get returns the open conversation with state, or nil when there is
// none or it timed out.
func (cs *conversations) get(state string, now time.Time) *conversation {
	cs.mu.Lock()
	evicted := cs.expireLocked(now)
	c := cs.byKey[state]
	if c != nil {
		c.lastUsed = now
		cs.order.MoveToBack(c.elem)
	}
	cs.mu.Unlock()
	for _, o := range evicted {
		o.closeMethod()
	}
	return c
}

// remove ends c (it may already be gone).
func (cs *conversations) remove(c *conversation) {
	cs.mu.Lock()
	if cs.byKey[c.state] == c {
		cs.removeLocked(c)
	}
	cs.mu.Unlock()
	c.closeMethod()
}

func (cs *conversations) removeLocked(c *conversation) {
	delete(cs.byKey, c.state)
	cs.order.Remove(c.elem)
	if c.tunneled {
		c.tunneled = false
		cs.tunnels--
	}
}

// expireLocked removes the conversations idle for longer than the
// timeout; they are the front of the list.
func (cs *conversations) expireLocked(now time.Time) []*conversation {
	var out []*conversation
	for e := cs.order.Front(); e != nil; e = cs.order.Front() {
		c := e.Value.(*conversation)
		if now.Sub(c.lastUsed) < cs.timeout {
			break
		}
		cs.removeLocked(c)
		out = append(out, c)
		cs.log.Info("radius EAP conversation timed out", "client", c.client.name, "outer_identity", c.outer, "timeout", cs.timeout.String())
	}
	return out
}

// len is the number of open conversations.
func (cs *conversations) len() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.byKey)
}

// closeAll ends every conversation (at shutdown).
func (cs *conversations) closeAll() {
	cs.mu.Lock()
	all := make([]*conversation, 0, len(cs.byKey))
	for _, c := range cs.byKey {
		all = append(all, c)
	}
	clear(cs.byKey)
	cs.order.Init()
	cs.tunnels = 0
	cs.mu.Unlock()
	for _, c := range all {
		c.closeMethod()
	}
}

// closeMethod releases the conversation's method. It does not wait for
// a packet in progress: close is safe while respond runs, which then
// fails.
func (c *conversation) closeMethod() {
	c.mu.Lock()
	m := c.method
	c.closed = true
	c.mu.Unlock()
	if m != nil {
		m.close()
	}
}

// setMethod installs m, or closes it at once when the conversation has
// ended meanwhile.
func (c *conversation) setMethod(m eapMethod) {
	c.mu.Lock()
	closed := c.closed
	c.method = m
	c.mu.Unlock()
	if closed {
		m.close()
	}
}

// eap answers an Access-Request carrying EAP-Message.
func (s *Server) eap(ctx context.Context, r *request, logArgs []any) reply {
	logArgs = append(logArgs, "method", "eap")
	p, err := parseEAP(eapMessage(r.pkt))
	if err != nil {
		s.log.Warn("radius EAP rejected: malformed EAP-Message", append(logArgs, "err", err.Error())...)
		return reply{code: radius.CodeAccessReject}
	}
	if p.code != eapCodeResponse {
		s.log.Warn("radius EAP rejected: the peer sent an EAP packet that is not a Response", append(logArgs, "eap_code", p.code)...)
		return eapFailure(p.id)
	}
	st, hasState := r.pkt.Lookup(rfc2865.State_Type)
	if !hasState {
		return s.eapStart(r, p, logArgs)
	}
	now := time.Now()
	c := s.convs.get(string(st), now)
	// By name: a reload of radius.clients (SetClients) makes new client
	// values, and a conversation may span it.
	if c == nil || c.client.name != r.client.name {
		s.log.Warn("radius EAP rejected: unknown or expired State (conversation timed out, evicted, or never started here)", logArgs...)
		return eapFailure(p.id)
	}
	if !c.busy.TryLock() {
		s.log.Warn("radius EAP packet dropped: its conversation is still processing an earlier packet", append(logArgs, "outer_identity", c.outer)...)
		return reply{silent: true}
	}
	out, end := s.eapContinue(ctx, r, c, p)
	c.busy.Unlock()
	if end {
		s.convs.remove(c)
	}
	return out
}

// eapStart begins a conversation on an EAP-Response/Identity (RFC 3748
// §5.1) by proposing PEAP; a peer configured for EAP-TTLS answers with a
// Nak naming it.
func (s *Server) eapStart(r *request, p eapPacket, logArgs []any) reply {
	if p.typ != eapTypeIdentity {
		s.log.Warn("radius EAP rejected: a conversation must start with EAP-Response/Identity (no State)", append(logArgs, "eap_type", p.typ)...)
		return eapFailure(p.id)
	}
	c := &conversation{client: r.client, outer: printable(string(p.data)), typ: eapTypePEAP, mtu: framedMTU(r.pkt)}
	c.log = s.log.With("client", r.client.name, "outer_identity", c.outer)
	if err := s.convs.add(c, time.Now()); err != nil {
		s.log.Error("radius EAP conversation not started", append(logArgs, "err", err.Error())...)
		return eapFailure(p.id)
	}
	c.log.Debug("radius EAP conversation started", "req", r.id)
	return s.challenge(c, p.id, tlsStart(eapTypePEAP))
}

// eapContinue handles one response of an open conversation, with c.busy
// held. end reports that the conversation is over.
func (s *Server) eapContinue(ctx context.Context, r *request, c *conversation, p eapPacket) (out reply, end bool) {
	log := c.log.With("req", r.id)
	if p.id != c.lastID {
		log.Warn("radius EAP rejected: EAP Identifier out of order", "got", p.id, "want", c.lastID)
		return eapFailure(p.id), true
	}
	c.rounds++
	if c.rounds > maxRounds {
		log.Warn("radius EAP rejected: too many rounds in one conversation", "max", maxRounds)
		return eapFailure(p.id), true
	}
	if m := framedMTU(r.pkt); m > 0 && (c.mtu == 0 || m < c.mtu) {
		c.mtu = m
	}
	if c.method == nil {
		return s.eapNegotiate(ctx, c, p, log)
	}
	if p.typ != c.typ {
		log.Warn("radius EAP rejected: response of another method than the one running", "eap_type", p.typ, "want", c.typ)
		return eapFailure(p.id), true
	}
	step := c.method.respond(ctx, p.data)
	if !step.done {
		return s.challenge(c, p.id, step.request), false
	}
	if !step.ok {
		return eapFailure(p.id), true
	}
	if len(step.msk) < 64 {
		// Never an Accept without keys: the access point could not
		// derive the Wi-Fi keys, and the user would see a "success"
		// that does not connect.
		log.Error("radius EAP rejected: no session keys to send", "user", step.user)
		return eapFailure(p.id), true
	}
	attrs := eapAttributes(eapPacket{code: eapCodeSuccess, id: p.id}.encode())
	keys, err := mppeKeyAttributes(step.msk, r.client.secret, r.pkt.Authenticator)
	if err != nil {
		log.Error("radius EAP rejected: MPPE keys not encrypted", "user", step.user, "err", err.Error())
		return eapFailure(p.id), true
	}
	attrs = append(attrs, keys...)
	attrs = append(attrs, &radius.AVP{Type: rfc2865.UserName_Type, Attribute: radius.Attribute(step.user)})
	attrs = append(attrs, step.attrs...)
	return reply{code: radius.CodeAccessAccept, attrs: attrs}, true
}

// eapNegotiate handles the peer's answer to the method proposed: the
// method itself, or a Nak (RFC 3748 §5.3.1) listing what it wants.
func (s *Server) eapNegotiate(ctx context.Context, c *conversation, p eapPacket, log *slog.Logger) (reply, bool) {
	switch p.typ {
	case c.typ:
		if !s.convs.admitTunnel(c, time.Now()) {
			log.Warn("radius EAP rejected: the conversation was evicted")
			return eapFailure(p.id), true
		}
		m := s.newTLSMethod(c)
		c.setMethod(m)
		step := m.respond(ctx, p.data)
		if step.done {
			return eapFailure(p.id), true
		}
		return s.challenge(c, p.id, step.request), false
	case eapTypeNak:
		for _, t := range p.data {
			if (t == eapTypeTTLS || t == eapTypePEAP) && t != c.typ {
				log.Debug("radius EAP peer asked for another method", "eap_type", t)
				c.typ = t
				return s.challenge(c, p.id, tlsStart(t)), false
			}
		}
		log.Warn("radius EAP rejected: the peer wants none of PEAP and EAP-TTLS", "wanted", fmt.Sprint(p.data))
		return eapFailure(p.id), true
	}
	log.Warn("radius EAP rejected: unexpected response to the method proposed", "eap_type", p.typ, "proposed", c.typ)
	return eapFailure(p.id), true
}

// challenge sends the next EAP-Request of c's method with typeData.
func (s *Server) challenge(c *conversation, lastID byte, typeData []byte) reply {
	c.lastID = lastID + 1
	msg := eapPacket{code: eapCodeRequest, id: c.lastID, typ: c.typ, data: typeData}.encode()
	attrs := eapAttributes(msg)
	attrs = append(attrs, &radius.AVP{Type: rfc2865.State_Type, Attribute: radius.Attribute(c.state)})
	return reply{code: radius.CodeAccessChallenge, attrs: attrs}
}

// eapFailure is an Access-Reject with EAP-Failure answering the response
// with identifier id (RFC 3748 §4.2).
func eapFailure(id byte) reply {
	return reply{code: radius.CodeAccessReject, attrs: eapAttributes(eapPacket{code: eapCodeFailure, id: id}.encode())}
}

// framedMTU is the Framed-MTU of a request (RFC 3579 §2.4: the largest
// EAP packet the access point can carry to the peer), or 0.
func framedMTU(p *radius.Packet) int {
	v, err := rfc2865.FramedMTU_Lookup(p)
	if err != nil {
		return 0
	}
	return int(v)
}

// printable keeps an identity fit for a log line: at most 128 bytes,
// control characters replaced.
func printable(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = '?'
		}
	}
	return string(b)
}

// mppeKeyAttributes are MS-MPPE-Recv-Key (the MSK's first 32 bytes) and
// MS-MPPE-Send-Key (the next 32), encrypted per RFC 2548 §2.4.2-3 with
// the shared secret, the request's authenticator and a random salt: the
// access point's PMK is the Recv-Key (RFC 5216 §2.3, IEEE 802.11).
func mppeKeyAttributes(msk, secret []byte, reqAuth [16]byte) (radius.Attributes, error) {
	p := &radius.Packet{Secret: secret, Authenticator: reqAuth}
	if err := microsoft.MSMPPERecvKey_Add(p, msk[:32]); err != nil {
		return nil, err
	}
	if err := microsoft.MSMPPESendKey_Add(p, msk[32:64]); err != nil {
		return nil, err
	}
	return p.Attributes, nil
}
