package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/dird/dird/config"
	"github.com/dird/dird/ldapd"
	"github.com/dird/dird/mail"
	"github.com/dird/dird/metrics"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// observer turns what policy, store and the fronts report through their
// hooks into metrics and the audit trail: one log line, marked
// audit=true, per authentication decision, lockout, password change or
// reset, and directory change. Nothing reported to it carries a secret,
// and it logs names only (DNs, attribute names), never values.
type observer struct {
	audit *slog.Logger
	m     *metrics.Metrics // nil when metrics.listen is empty
	// hashes counts the password hashes started (returnHashMemory).
	hashes atomic.Uint64
}

func newObserver(cfg config.Config, log *slog.Logger, size func() int64) *observer {
	o := &observer{audit: slog.New(alwaysEnabled{log.Handler()}).With("audit", true)}
	if cfg.Metrics.Listen != "" {
		o.m = metrics.New(size)
	}
	return o
}

// alwaysEnabled writes every record whatever log.level says: the audit
// trail is not chatter that a quieter level should drop. slog's handlers
// check the level only in Enabled, so Handle writes what it is given.
type alwaysEnabled struct{ h slog.Handler }

func (a alwaysEnabled) Enabled(context.Context, slog.Level) bool { return true }
func (a alwaysEnabled) Handle(ctx context.Context, r slog.Record) error {
	return a.h.Handle(ctx, r)
}
func (a alwaysEnabled) WithAttrs(attrs []slog.Attr) slog.Handler {
	return alwaysEnabled{a.h.WithAttrs(attrs)}
}
func (a alwaysEnabled) WithGroup(name string) slog.Handler { return alwaysEnabled{a.h.WithGroup(name)} }

// credential receives policy's events.
func (o *observer) credential(e policy.Event) {
	switch e.Kind {
	case policy.EventHashWait:
		o.hashes.Add(1)
		if o.m != nil {
			o.m.HashWait(e.Wait)
		}
	case policy.EventAuth:
		outcome, reason := authOutcome(e)
		if o.m != nil && e.Front == policy.FrontLDAP {
			o.m.LDAPBind(outcome)
		}
		level := slog.LevelInfo
		if outcome != "ok" {
			level = slog.LevelWarn
		}
		o.audit.Log(context.Background(), level, "authentication",
			"front", e.Front, "user", e.User, "outcome", outcome, "reason", reason, "client", e.Client)
	case policy.EventLockout:
		if o.m != nil {
			o.m.Lockout()
		}
		o.audit.Warn("account locked", "user", e.User, "reason", "too many failed attempts")
	case policy.EventPasswordChange, policy.EventPasswordReset:
		kind, msg := "change", "password changed"
		if e.Kind == policy.EventPasswordReset {
			kind, msg = "reset", "password reset"
		}
		if o.m != nil {
			o.m.PasswordChange(e.Front, kind)
		}
		o.audit.Info(msg, "front", e.Front, "user", e.User, "client", e.Client)
	case policy.EventTOTPRemoved:
		r := e.Removal
		o.audit.Info("authenticator removed", "front", e.Front, "user", e.User, "actor", e.Actor,
			"app", r.App, "pending", r.Pending, "recovery_codes", r.RecoveryCodes, "sessions_ended", r.Sessions)
	}
}

// authOutcome names an authentication's outcome for metrics and logs,
// and the reason behind it.
func authOutcome(e policy.Event) (outcome, reason string) {
	if e.Err != nil {
		if errors.Is(e.Err, policy.ErrBusy) {
			return "error", "busy: too many authentications in progress"
		}
		return "error", e.Err.Error()
	}
	out := e.Outcome
	switch e.Result {
	case policy.OK:
		switch {
		case out.Admin:
			return "ok", "administrator"
		case out.MustChange:
			return "ok", "password must be changed (pwdReset)"
		case out.GraceRemaining >= 0:
			return "ok", fmt.Sprintf("grace login, %d left", out.GraceRemaining)
		case out.ExpiresIn > 0:
			return "ok", "password expires in " + out.ExpiresIn.Round(time.Minute).String()
		}
		return "ok", "password verified"
	case policy.Locked:
		return "locked", "account locked"
	case policy.Expired:
		return "expired", "password expired"
	}
	// The door does not say which of unknown user, no password, wrong
	// password or throttled: a front must not, and the log need not.
	return "invalid_credentials", "invalid credentials"
}

// change receives store's committed writes.
func (o *observer) change(c store.Change) {
	args := []any{"actor", c.Actor, "op", c.Op, "dn", c.DN.String(), "attrs", c.Attrs}
	if c.NewDN != nil {
		args = append(args, "new_dn", c.NewDN.String())
	}
	o.audit.Info("directory change", args...)
}

func (o *observer) ldapOperation(op string) {
	if o.m != nil {
		o.m.LDAPOperation(op)
	}
}

func (o *observer) radiusRequest(method, outcome string) {
	if o.m != nil {
		o.m.RADIUSRequest(method, outcome)
	}
}

// mailSent counts one message's delivery.
func (o *observer) mailSent(err error) {
	if o.m != nil {
		o.m.Mail(err)
	}
}

// observeMail wraps the Sender the server builds for the portal and the
// notifier, so that dird_mails_total counts what they send.
func (s *Server) observeMail(m mail.Sender) mail.Sender { return mail.Observed(m, s.obs.mailSent) }

// storeSize reads the store's on-disk size for the metric, when the
// backend knows it.
func (s *Server) storeSize() int64 {
	if sz, ok := s.kv.(store.Sizer); ok {
		return sz.Size()
	}
	return 0
}

// startMetrics serves metrics.listen, when set, and says the server is
// ready: Start calls it last, once the store is open and every listener
// is up.
func (s *Server) startMetrics() error {
	if s.obs.m == nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics: listening on %s: %w", s.cfg.Metrics.Listen, err)
	}
	s.metrics = metrics.NewServer(s.obs.m)
	s.addrs["metrics"] = ln.Addr().String()
	// Ready before the line that says where to ask: whoever reads the
	// log and asks /readyz at once must not get a 503 (the socket is
	// bound already, so the request waits for Serve).
	s.obs.m.SetReady(true)
	s.log.Info("listening", "front", "metrics", "addr", ln.Addr().String())
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.metrics.Serve(ln); err != nil && !errors.Is(err, metrics.ErrServerClosed) {
			s.errc <- fmt.Errorf("metrics: serving %s: %w", s.cfg.Metrics.Listen, err)
		}
	}()
	return nil
}

// stopMetrics says the server is no longer ready, then stops the
// endpoint.
func (s *Server) stopMetrics(ctx context.Context) {
	if s.metrics == nil {
		return
	}
	s.obs.m.SetReady(false)
	s.metrics.Shutdown(ctx)
}

// certificate is the LDAP server certificate, swapped whole on reload:
// a handshake reads it through tls.Config.GetCertificate, so connections
// already up keep theirs and new ones get the new one.
type certificate struct {
	cur atomic.Pointer[tls.Certificate]
}

func (c *certificate) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.cur.Load(), nil }

// loadCertificate reads ldap.tls_cert and ldap.tls_key.
func loadCertificate(c ldapd.Config) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("ldap.tls_cert, ldap.tls_key: loading %s and %s: %w", c.TLSCert, c.TLSKey, err)
	}
	return &cert, nil
}

// loadTLS builds the LDAP front's TLS configuration (nil without a
// certificate), keeping the certificate where Reload can swap it.
func (s *Server) loadTLS(c ldapd.Config) (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := loadCertificate(c)
	if err != nil {
		return nil, err
	}
	s.cert = &certificate{}
	s.cert.cur.Store(cert)
	return &tls.Config{GetCertificate: s.cert.get, MinVersion: tls.VersionTLS12}, nil
}

// Reload applies what can change without a restart (SIGHUP): the LDAP
// certificate and key, re-read from their files, and the RADIUS clients.
// Connections stay up. A part that fails to load keeps its old state and
// the error is returned; the other parts are still applied. Anything else
// in cfg that differs takes effect at the next restart.
func (s *Server) Reload(cfg config.Config) error {
	var errs []error
	switch {
	case s.cert != nil && cfg.LDAP.TLSCert != "":
		cert, err := loadCertificate(cfg.LDAP)
		if err != nil {
			errs = append(errs, fmt.Errorf("keeping the old LDAP certificate: %w", err))
		} else {
			s.cert.cur.Store(cert)
			s.log.Info("reloaded the LDAP certificate", "cert", cfg.LDAP.TLSCert)
		}
	case (s.cert != nil) != (cfg.LDAP.TLSCert != ""):
		errs = append(errs, errors.New("ldap.tls_cert: turning TLS on or off needs a restart"))
	}
	if s.radius != nil {
		s.radius.SetClients(cfg.Radius.Clients)
		s.log.Info("reloaded the RADIUS clients", "clients", len(cfg.Radius.Clients))
	} else if cfg.Radius.Listen != "" {
		errs = append(errs, errors.New("radius.listen: turning RADIUS on needs a restart"))
	}
	return errors.Join(errs...)
}
