package portal

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dird/dird/mail"
	"github.com/dird/dird/policy"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = http.ErrServerClosed

//go:embed templates/*.html static/*
var assets embed.FS

// Options are wiring choices that are not configuration.
type Options struct {
	// Now is the clock for rate limits and display; nil means time.Now.
	// The door has its own (server passes both the same).
	Now func() time.Time
	// Issuer names the service in authenticator apps; "" means "dird".
	Issuer string
	// Audit writes the portal's audit lines, whatever the log level (the
	// server's audit trail); nil means the portal's logger with
	// audit=true.
	Audit *slog.Logger
}

// Server is the portal.
type Server struct {
	cfg    Config
	door   *policy.Door
	mail   mail.Sender
	log    *slog.Logger
	audits *slog.Logger // audit lines (Options.Audit)
	now    func() time.Time
	issuer string
	pages  map[string]*template.Template
	limits policy.SessionLimits
	// secure: the portal is reached over https (public_url), so cookies
	// are Secure with the __Host- prefix and HSTS is sent.
	secure bool
	cookie string

	loginIP      *limiter
	resetIP      *limiter
	resetAccount *limiter

	handler http.Handler
	http    *http.Server

	jobs    chan job // mail work, done off the request (same timing)
	stop    context.CancelFunc
	workers sync.WaitGroup
}

// Limits of the anti-automation, documented in README.md.
const (
	loginsPerAddress       = 30 // per minute
	resetsPerAddress       = 5  // per 15 minutes
	resetsPerAccount       = 3  // per hour
	requestTimeout         = 30 * time.Second
	mfaPendingMax          = 5 * time.Minute
	mailQueue              = 256
	mailAttempts           = 3
	mailRetryPause         = 2 * time.Second
	pruneInterval          = time.Hour
	maxFormBytes     int64 = 16 << 10
)

// New builds the portal. Call Serve to start it and Shutdown to stop it.
func New(cfg Config, door *policy.Door, sender mail.Sender, log *slog.Logger, o Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, door: door, mail: sender, log: log, now: o.Now, issuer: o.Issuer,
		limits: policy.SessionLimits{Idle: cfg.SessionIdle, Max: cfg.SessionMax},
		jobs:   make(chan job, mailQueue),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.issuer == "" {
		s.issuer = "dird"
	}
	s.audits = o.Audit
	if s.audits == nil {
		s.audits = log.With("audit", true)
	}
	u, _ := url.Parse(cfg.PublicURL)
	s.secure = u.Scheme == "https"
	s.cookie = "dird_session"
	if s.secure {
		s.cookie = "__Host-dird_session"
	}
	s.loginIP = newLimiter(loginsPerAddress, time.Minute, s.now)
	s.resetIP = newLimiter(resetsPerAddress, 15*time.Minute, s.now)
	s.resetAccount = newLimiter(resetsPerAccount, time.Hour, s.now)
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.workers.Add(2)
	go func() { defer s.workers.Done(); s.mailWorker(ctx) }()
	go func() { defer s.workers.Done(); s.pruner(ctx) }()
	return s, nil
}

// Handler returns the portal's HTTP handler (for tests).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.http.Serve(ln)
}

// Shutdown stops accepting, finishes requests in flight until ctx is
// done, and stops the mail worker (mail still queued is logged as lost).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.Close()
	return err
}

// Close stops the background workers (Shutdown calls it).
func (s *Server) Close() {
	s.stop()
	s.workers.Wait()
}

// routes lists the middleware in order (outermost first) and the pages.
func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.recoverPanics, s.securityHeaders, s.crossOrigin, s.deadline)
	r.Get("/", s.getRoot)
	r.Post("/login", s.postLogin)
	r.Get("/login/code", s.getLoginCode)
	r.Post("/login/code", s.postLoginCode)
	r.Post("/logout", s.postLogout)
	r.Get("/security", s.getSecurity)
	r.Post("/security/password", s.postPassword)
	r.Post("/security/sessions", s.postEndSessions)
	r.Post("/security/mfa", s.postMFABegin)
	r.Post("/security/mfa/confirm", s.postMFAConfirm)
	r.Get("/reset", s.getResetRequest)
	r.Post("/reset", s.postResetRequest)
	r.Get("/reset/{token}", s.getReset)
	r.Post("/reset/{token}", s.postReset)
	r.Post("/reset/{token}/code", s.postResetCode)
	r.Get("/healthz", s.getHealth)
	static, _ := fs.Sub(assets, "static")
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(static)))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.render(w, r, http.StatusNotFound, "message", view{Title: "Not found", Message: "There is no such page."})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	})
	return r
}

// securityHeaders: a CSP with no script at all, no framing, no sniffing,
// no referrer (reset links carry their token in the path), HSTS over
// https, and no caching of any page (every page either shows or accepts
// a secret, or shows the user's own state).
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if s.secure {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses cross-origin state changes (login CSRF included)
// with Go's Sec-Fetch-Site/Origin check; the SameSite cookie is the
// second line.
func (s *Server) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	// Behind a reverse proxy the Host header may not be public_url's
	// host; a form from public_url itself is never cross-origin.
	if u, err := url.Parse(s.cfg.PublicURL); err == nil {
		if err := cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			s.log.Warn("portal.public_url is not a usable origin", "err", err)
		}
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.audit(r, "csrf_refused", "", "refused", "path", r.URL.Path)
		s.render(w, r, http.StatusForbidden, "message", view{Title: "Request refused", Message: "This form was sent from another site. Open the portal and try again."})
	}))
	return cop.Handler(next)
}

func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.internalError(w, r, fmt.Errorf("panic: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) {
	if err := s.door.Healthy(r.Context()); err != nil {
		s.log.Warn("health check failed", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// internalError logs err under a short id and shows only the id: the
// portal shows only errors built to be public.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.log.ErrorContext(r.Context(), "portal request failed", "id", id, "path", redactPath(r.URL.Path), "err", err)
	s.render(w, r, http.StatusInternalServerError, "message", view{Title: "Something went wrong", Message: "Internal error (" + id + "). Try again later; if it persists, give this code to your administrator."})
}

// redactPath keeps reset tokens out of the log.
func redactPath(p string) string {
	if strings.HasPrefix(p, "/reset/") {
		return "/reset/…"
	}
	return p
}

// clientAddr is the peer's IP. Forwarded headers are not trusted: a
// reverse proxy in front would make every client one address, which the
// limits then treat as one (documented).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// audit writes one audit line for a portal step the door does not see
// (the door reports logins, changes, resets and lockouts itself): who,
// what, result, from where.
func (s *Server) audit(r *http.Request, event, user, result string, attrs ...any) {
	s.auditClient(r.Context(), clientAddr(r), event, user, result, attrs...)
}

func (s *Server) auditClient(ctx context.Context, client, event, user, result string, attrs ...any) {
	args := append([]any{"front", policy.FrontPortal, "event", event, "user", user, "result", result, "client", client}, attrs...)
	s.audits.InfoContext(ctx, "portal step", args...)
}

func (s *Server) pruner(ctx context.Context) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.door.PruneRecords(ctx, s.limits); err != nil && ctx.Err() == nil {
				s.log.Warn("pruning old sessions and reset links", "err", err)
			} else if n > 0 {
				s.log.Debug("pruned old sessions and reset links", "count", n)
			}
		}
	}
}

// formValue reads one posted field.
func formValue(r *http.Request, name string) string {
	return r.PostFormValue(name)
}
