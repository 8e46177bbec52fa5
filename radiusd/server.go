package radiusd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"layeh.com/radius"

	"github.com/dird/dird/internal/workpool"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// ErrServerClosed is returned by ServePacket after Shutdown.
var ErrServerClosed = errors.New("radiusd: server closed")

// Limits. FreeRADIUS's shipped security section sets max_attributes = 200
// and reject_delay = 1: an Access-Reject leaves no earlier than a second
// after its request arrived, which slows password guessing and hides how
// long the verification took.
const (
	maxPacket      = radius.MaxPacketLength // RFC 2865 §3: 4096 bytes
	maxAttributes  = 200
	maxInFlight    = 256 // requests being processed at once, per server
	requestTimeout = 10 * time.Second
	rejectDelay    = time.Second
)

// Server is the RADIUS front. Create it with New, then call ServePacket
// for each UDP socket.
type Server struct {
	door      *policy.Door
	dir       *store.Directory
	log       *slog.Logger
	clients   atomic.Pointer[[]client] // swapped whole by SetClients (observe.go)
	drops     dropLog
	observe   func(method, outcome string)
	convs     *conversations // EAP conversations in progress
	tlsConfig *tls.Config    // PEAP and EAP-TTLS
	// groupReplies are radius.group_replies in key order (authz.go).
	groupReplies []groupReplyRule

	paps *papChallenges   // PAP logins waiting for a TOTP code (papcode.go)
	now  func() time.Time // the challenges' clock

	ctx      context.Context // parent of every request's context
	cancel   context.CancelFunc
	stopping chan struct{}  // closed by Shutdown: delayed rejects leave at once
	slots    chan struct{}  // one per request being processed
	pool     *workpool.Pool // runs the requests admitted to a slot
	nextID   atomic.Uint64

	mu     sync.Mutex // guards conns, closed
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup // readers, requests and EAP tunnels
}

// client is a configured client, parsed.
type client struct {
	name   string
	prefix netip.Prefix
	secret []byte
	// groups restricts the client to their members; empty: anyone.
	groups []groupRef
}

// conn is one socket being served, with its duplicate cache (RFC 5080
// keys duplicates by receiving socket too).
type conn struct {
	pc    net.PacketConn
	cache *replyCache
	acct  bool // the accounting socket: Accounting-Request only
}

// request is one verified, new request on its way through the server.
type request struct {
	c       *conn
	addr    net.Addr // where the reply goes
	src     netip.AddrPort
	client  *client
	pkt     *radius.Packet
	arrived time.Time
	id      uint64 // in logs, and in the Reply-Message of an internal error
	key     dedupKey
	entry   *dedupEntry
}

// Options are wiring choices that are not configuration.
type Options struct {
	// CertDir is where the self-signed EAP certificate is kept when
	// radius.eap_tls_cert is not set (the store's directory).
	CertDir string
	// Now is the clock of the PAP code challenges' timeout; nil means
	// time.Now. Tests move it with the policy clock.
	Now func() time.Time
}

// New returns a server that answers the clients of cfg through door. cfg
// has been validated; a client whose address does not parse is left out.
// dir is for authorisation (per-client groups, group reply attributes).
// It fails when the EAP certificate cannot be loaded or made.
func New(cfg Config, door *policy.Door, dir *store.Directory, log *slog.Logger, o Options) (*Server, error) {
	cert, err := eapCertificate(cfg, o.CertDir, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		door: door, dir: dir, log: log,
		groupReplies: parseGroupReplies(cfg.GroupReplies),
		convs:        newConversations(log),
		paps:         newPAPChallenges(log),
		now:          o.Now,
		tlsConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// No resumption: a resumed session would skip the inner
			// authentication, so a locked account could keep coming
			// back; and TLS 1.3 tickets would be extra messages.
			SessionTicketsDisabled: true,
		},
		ctx: ctx, cancel: cancel,
		pool:     workpool.New(ctx),
		stopping: make(chan struct{}),
		slots:    make(chan struct{}, maxInFlight),
		conns:    map[*conn]struct{}{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.SetClients(cfg.Clients)
	return s, nil
}

func weakSecret(s string) bool { return len(s) < 16 || s == "testing123" }

func loopbackOnly(p netip.Prefix) bool {
	a := p.Addr()
	if a.Is4() {
		return a.IsLoopback() && p.Bits() >= 8
	}
	return a.IsLoopback() && p.Bits() == 128
}

// ServePacket answers requests arriving on pc until Shutdown, which also
// closes pc once the requests in progress are answered.
func (s *Server) ServePacket(pc net.PacketConn) error {
	return s.serve(&conn{pc: pc, cache: newReplyCache()})
}

// ServeAccounting answers Accounting-Requests (RFC 2866) arriving on pc
// until Shutdown, like ServePacket.
func (s *Server) ServeAccounting(pc net.PacketConn) error {
	return s.serve(&conn{pc: pc, cache: newReplyCache(), acct: true})
}

func (s *Server) serve(c *conn) error {
	pc := c.pc
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	// One byte more than the largest packet, to tell a too long datagram.
	buf := make([]byte, maxPacket+1)
	var delay time.Duration
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("radiusd: reading: %w", err)
		}
		delay = 0
		s.receive(c, bytes.Clone(buf[:n]), addr, time.Now())
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops reading, lets the requests in progress finish until ctx
// is done (delayed Access-Rejects are sent at once), then closes every
// socket.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stopping)
	}
	for c := range s.conns {
		c.pc.SetReadDeadline(time.Now()) // wakes the reader, which sees closed
	}
	s.mu.Unlock()
	// EAP conversations end now: their tunnels' goroutines (counted in
	// wg) wait for peers that would get no answer.
	s.convs.closeAll()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.cancel()
	<-done
	s.mu.Lock()
	for c := range s.conns {
		c.pc.Close()
		delete(s.conns, c)
	}
	s.mu.Unlock()
	return err
}

// receive takes one datagram from the reader: it admits it and starts
// processing it, or answers a retransmission from the cache, or drops it.
// A panic is contained to the packet.
func (s *Server) receive(c *conn, b []byte, addr net.Addr, arrived time.Time) {
	defer s.recoverPacket(addr)
	r := s.admit(c, b, addr, arrived)
	if r == nil {
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		// The access point retries; by then a slot may be free.
		c.cache.forget(r.key, r.entry)
		s.drop(r.src, "too many requests in progress", "client", r.client.name, "max", maxInFlight)
		return
	}
	s.wg.Add(1)
	s.pool.Run(func() {
		defer s.wg.Done()
		s.process(r)
	})
}

func (s *Server) recoverPacket(addr net.Addr) {
	if v := recover(); v != nil {
		s.log.Error("radius packet handler panicked; packet dropped", "src", addr.String(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	}
}

// admit checks a datagram: from a client, well-formed, with a valid
// Message-Authenticator, and not a retransmission. It returns the request
// to process, or nil when the packet was dropped or answered from the
// duplicate cache.
func (s *Server) admit(c *conn, b []byte, addr net.Addr, arrived time.Time) *request {
	src := addrPort(addr)
	cl := s.client(src.Addr())
	if cl == nil {
		s.drop(src, "source address is not in radius.clients")
		return nil
	}
	if len(b) > maxPacket {
		s.drop(src, "packet longer than 4096 bytes", "client", cl.name)
		return nil
	}
	pkt, err := radius.Parse(b, cl.secret)
	if err != nil {
		s.drop(src, "malformed packet", "client", cl.name, "err", err.Error())
		return nil
	}
	// Bytes past the Length field are padding (RFC 2865 §3) and are not
	// covered by the Message-Authenticator.
	raw := b[:packetLength(b)]
	if len(pkt.Attributes) > maxAttributes {
		s.drop(src, "more than 200 attributes", "client", cl.name)
		return nil
	}
	switch {
	case c.acct && pkt.Code == radius.CodeAccountingRequest:
		// RFC 2866 §3: the Request Authenticator is the integrity check;
		// Message-Authenticator is optional here.
		if err := verifyAccountingRequest(raw, cl.secret); err != nil {
			s.drop(src, err.Error(), "client", cl.name, "code", pkt.Code.String())
			return nil
		}
	case c.acct:
		s.drop(src, "not an Accounting-Request on the accounting port", "client", cl.name, "code", pkt.Code.String())
		return nil
	case pkt.Code == radius.CodeAccessRequest, pkt.Code == radius.CodeStatusServer:
		if err := verifyMessageAuthenticator(raw, cl.secret); err != nil {
			s.drop(src, err.Error(), "client", cl.name, "code", pkt.Code.String())
			return nil
		}
	case pkt.Code == radius.CodeAccountingRequest:
		s.drop(src, "Accounting-Request on the authentication port (accounting is served on radius.accounting_listen)", "client", cl.name)
		return nil
	default:
		s.drop(src, "unexpected packet code", "client", cl.name, "code", pkt.Code.String())
		return nil
	}
	r := &request{c: c, addr: addr, src: src, client: cl, pkt: pkt, arrived: arrived, key: dedupKey{src, pkt.Identifier}}
	e, cached := c.cache.begin(r.key, pkt.Authenticator, arrived)
	if e == nil {
		if cached == nil {
			s.log.Debug("radius retransmission of a request in progress dropped", "client", cl.name, "src", src.String(), "radius_id", pkt.Identifier)
			return nil
		}
		s.log.Debug("radius retransmission answered with the cached reply", "client", cl.name, "src", src.String(), "radius_id", pkt.Identifier)
		if _, err := c.pc.WriteTo(cached, addr); err != nil && !s.isClosed() {
			s.log.Warn("radius reply not sent", "client", cl.name, "src", src.String(), "err", err)
		}
		return nil
	}
	r.entry = e
	r.id = s.nextID.Add(1)
	return r
}

// drop logs a dropped packet, at most once a minute per source and reason.
func (s *Server) drop(src netip.AddrPort, reason string, args ...any) {
	ok, suppressed := s.drops.allow(src.Addr(), reason, time.Now())
	if !ok {
		return
	}
	args = append([]any{"reason", reason, "src", src.String()}, args...)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	s.log.Warn("radius packet dropped", args...)
}

// client returns the first configured client whose prefix holds a.
func (s *Server) client(a netip.Addr) *client {
	a = a.Unmap()
	clients := *s.clients.Load()
	for i := range clients {
		if clients[i].prefix.Contains(a) {
			return &clients[i]
		}
	}
	return nil
}

func addrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// reply is what the server decided to answer.
type reply struct {
	code    radius.Code
	message string // Reply-Message; none when empty
	attrs   radius.Attributes
	silent  bool // send nothing: the access point will retry
}

// process answers one admitted request, in its own goroutine holding a
// slot. The slot is given back before an Access-Reject waits out
// rejectDelay, so delayed rejects do not hold up other requests.
func (s *Server) process(r *request) {
	out := s.decide(r)
	s.report(r, out)
	if out.silent {
		r.c.cache.forget(r.key, r.entry)
		return
	}
	b, err := encodeReply(out.code, r.pkt, s.replyAttrs(out), r.client.secret)
	if err != nil {
		r.c.cache.forget(r.key, r.entry)
		s.log.Error("radius reply not encoded", "req", r.id, "client", r.client.name, "err", err)
		return
	}
	if out.code == radius.CodeAccessReject {
		if wait := time.Until(r.arrived.Add(rejectDelay)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.stopping:
				t.Stop()
			}
		}
	}
	// Cached before it is sent, so that a retransmission arriving after
	// the reply gets the same bytes.
	r.c.cache.finish(r.key, r.entry, b)
	if _, err := r.c.pc.WriteTo(b, r.addr); err != nil {
		s.log.Warn("radius reply not sent", "req", r.id, "client", r.client.name, "src", r.src.String(), "err", err)
	}
}

// decide runs the request's handler under a slot, a deadline and panic
// recovery.
func (s *Server) decide(r *request) (out reply) {
	defer func() { <-s.slots }()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("radius request handler panicked; no reply", "req", r.id, "client", r.client.name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			out = reply{silent: true}
		}
	}()
	ctx, cancel := context.WithTimeout(s.ctx, requestTimeout)
	defer cancel()
	switch r.pkt.Code {
	case radius.CodeStatusServer:
		return s.status(r)
	case radius.CodeAccountingRequest:
		return s.accounting(r)
	default:
		return s.access(ctx, r)
	}
}

// status answers Status-Server (RFC 5997 §3) with Access-Accept. It is
// not an authentication of anyone.
func (s *Server) status(r *request) reply {
	s.log.Debug("radius status-server", "req", r.id, "client", r.client.name, "src", r.src.String())
	return reply{code: radius.CodeAccessAccept}
}
