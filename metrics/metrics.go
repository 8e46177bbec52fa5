package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metric names, for dashboards and the README.
const (
	NameLDAPBinds       = "dird_ldap_binds_total"
	NameLDAPOperations  = "dird_ldap_operations_total"
	NameRADIUSRequests  = "dird_radius_requests_total"
	NameLockouts        = "dird_lockouts_total"
	NamePasswordChanges = "dird_password_changes_total"
	NameMails           = "dird_mails_total"
	NameHashQueueWait   = "dird_hash_queue_wait_seconds"
	NameStoreSize       = "dird_store_size_bytes"
)

// Metrics holds dird's counters. Its methods are safe for concurrent use
// and cheap: they run on every bind and every request.
type Metrics struct {
	reg             *prometheus.Registry
	ldapBinds       *prometheus.CounterVec
	ldapOps         *prometheus.CounterVec
	radiusRequests  *prometheus.CounterVec
	lockouts        prometheus.Counter
	passwordChanges *prometheus.CounterVec
	mails           *prometheus.CounterVec
	hashWait        prometheus.Histogram
	ready           atomic.Bool
}

// New returns the metrics with every series registered. storeSize, when
// not nil, is read at each scrape for dird_store_size_bytes.
func New(storeSize func() int64) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ldapBinds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameLDAPBinds,
			Help: "LDAP simple binds with a password, by outcome (ok, invalid_credentials, locked, expired, error).",
		}, []string{"outcome"}),
		ldapOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameLDAPOperations,
			Help: "LDAP operations other than bind, by operation (search, add, modify, delete, modrdn, compare, extended).",
		}, []string{"op"}),
		radiusRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameRADIUSRequests,
			Help: "RADIUS requests answered or dropped after admission, by method (pap, mschapv2, eap, status, other) and outcome (accept, reject, challenge, dropped).",
		}, []string{"method", "outcome"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: NameLockouts,
			Help: "Accounts locked by failed attempts (on any front).",
		}),
		passwordChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NamePasswordChanges,
			Help: "Passwords changed by their user (kind=change) or set by an administrator or a reset (kind=reset), by front.",
		}, []string{"front", "kind"}),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameMails,
			Help: "Emails handed to the mail driver, by result (sent, failed).",
		}, []string{"result"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: NameHashQueueWait,
			Help: "Time a password hash or verification waited for a slot in the bounded hashing queue.",
			// From "no wait" to the 10s an attempt may wait at most.
			Buckets: []float64{0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}),
	}
	m.reg.MustRegister(m.ldapBinds, m.ldapOps, m.radiusRequests, m.lockouts, m.passwordChanges, m.mails, m.hashWait,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if storeSize != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: NameStoreSize,
			Help: "On-disk size of the store (Badger's LSM tree and value log), as the store last measured it.",
		}, func() float64 { return float64(storeSize()) }))
	}
	// Outcomes that have not happened yet are exported as 0, so a rate()
	// over them works from the first scrape and a dashboard shows them.
	for _, o := range []string{"ok", "invalid_credentials", "locked", "expired", "error"} {
		m.ldapBinds.WithLabelValues(o)
	}
	for _, r := range []string{"sent", "failed"} {
		m.mails.WithLabelValues(r)
	}
	return m
}

// LDAPBind counts one LDAP bind with a password.
func (m *Metrics) LDAPBind(outcome string) { m.ldapBinds.WithLabelValues(outcome).Inc() }

// LDAPOperation counts one LDAP operation other than bind.
func (m *Metrics) LDAPOperation(op string) { m.ldapOps.WithLabelValues(op).Inc() }

// RADIUSRequest counts one RADIUS request.
func (m *Metrics) RADIUSRequest(method, outcome string) {
	m.radiusRequests.WithLabelValues(method, outcome).Inc()
}

// Lockout counts one account locked by failures.
func (m *Metrics) Lockout() { m.lockouts.Inc() }

// PasswordChange counts one password change ("change") or reset
// ("reset") made through front.
func (m *Metrics) PasswordChange(front, kind string) {
	m.passwordChanges.WithLabelValues(front, kind).Inc()
}

// Mail counts one message handed to the mail driver; err is its result.
func (m *Metrics) Mail(err error) {
	if err != nil {
		m.mails.WithLabelValues("failed").Inc()
		return
	}
	m.mails.WithLabelValues("sent").Inc()
}

// HashWait records how long one hash waited for a hashing slot.
func (m *Metrics) HashWait(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// SetReady says whether the server is ready: the store is open and every
// listener is up. /readyz answers 200 only while it is.
func (m *Metrics) SetReady(ready bool) { m.ready.Store(ready) }

// Handler serves /metrics, /healthz and /readyz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		// Live: the process answers HTTP. Nothing more is checked, so a
		// supervisor restarts only a process that is truly stuck.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !m.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

// Server is the HTTP endpoint for a Metrics.
type Server struct {
	hs *http.Server
}

// NewServer returns the endpoint serving m.
func NewServer(m *Metrics) *Server {
	return &Server{hs: &http.Server{
		Handler:           m.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = http.ErrServerClosed

// Serve answers on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops the endpoint; see http.Server.Shutdown.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.hs.Shutdown(ctx)
}
