package ldapd

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dird/dird/internal/workpool"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("ldapd: server closed")

// Limits copied from slapd's defaults (slapd.conf(5): sockbuf_max_incoming
// and conn_max_pending): an anonymous connection may send smaller
// messages and fewer at once than a bound one.
const (
	maxMessageAnonymous = 256 << 10
	maxMessageBound     = 4 << 20
	maxPendingPerConn   = 64
	writeTimeout        = 30 * time.Second
)

// Server is the LDAP front. Create it with New, then call Serve (plain
// LDAP, with StartTLS when a certificate is set) or ServeTLS (LDAPS) for
// each listener.
type Server struct {
	cfg  Config
	door *policy.Door
	dir  *store.Directory
	log  *slog.Logger
	tls  *tls.Config
	// observe is told of each operation but bind (observe.go); nil: no
	// one listens.
	observe func(op string)

	ctx    context.Context // parent of every request's context
	cancel context.CancelFunc
	slots  chan struct{}  // one per allowed connection
	pool   *workpool.Pool // runs every operation but bind and StartTLS
	nextID atomic.Uint64

	mu        sync.Mutex // guards listeners, conns, closed
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// New returns a server that answers from dir through door. tlsConfig may
// be nil (no StartTLS, no LDAPS).
func New(cfg Config, door *policy.Door, dir *store.Directory, tlsConfig *tls.Config, log *slog.Logger) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	max := cfg.MaxConnections
	if max <= 0 {
		max = 10000
	}
	return &Server{
		cfg: cfg, door: door, dir: dir, log: log, tls: tlsConfig,
		ctx: ctx, cancel: cancel,
		pool:      workpool.New(ctx),
		slots:     make(chan struct{}, max),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
	}
}

// Serve accepts plain LDAP connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS accepts LDAPS connections on ln (TLS from the first byte).
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.tls == nil {
		return errors.New("ldapd: LDAPS needs ldap.tls_cert and ldap.tls_key")
	}
	return s.serve(tls.NewListener(ln, s.tls), true)
}

func (s *Server) serve(ln net.Listener, isTLS bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		select {
		case s.slots <- struct{}{}:
		default:
			// Over ldap.max_connections: say why, then hang up.
			s.log.Warn("ldap connection refused: max_connections reached", "remote", nc.RemoteAddr().String(), "max", cap(s.slots))
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write(encodeNoticeOfDisconnection(resultUnavailable, "too many connections"))
			nc.Close()
			continue
		}
		c := newConn(s, nc, isTLS)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			<-s.slots
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Shutdown stops accepting, lets in-flight operations finish until ctx is
// done, then closes every connection.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.closeRead()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
