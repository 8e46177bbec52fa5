// Package server wires dird together: it opens the store, builds the
// policy door, starts every front on its listeners and runs them under one
// lifecycle. It imports everything and is imported only by cmd/dird and
// internal/dirdtest.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/dird/dird/config"
	"github.com/dird/dird/ldapd"
	"github.com/dird/dird/mail"
	"github.com/dird/dird/metrics"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/portal"
	"github.com/dird/dird/radiusd"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/badgerkv"
)

// Options are wiring choices that are not configuration.
type Options struct {
	// KV replaces the configured backend (tests pass a memkv). The server
	// closes it on shutdown.
	KV store.KV
	// Now is the clock every decision reads; nil means time.Now.
	Now func() time.Time
}

// Server is a started dird.
type Server struct {
	cfg  config.Config
	log  *slog.Logger
	kv   store.KV
	dir  *store.Directory
	door *policy.Door
	ldap *ldapd.Server
	// radius is nil when radius.listen is empty.
	radius *radiusd.Server
	// portal is nil when portal.listen is empty.
	portal *portal.Server

	obs     *observer       // metrics and the audit trail (observe.go)
	metrics *metrics.Server // nil when metrics.listen is empty
	cert    *certificate    // the LDAP certificate, nil without TLS

	addrs map[string]string
	errc  chan error
	ctl   *control // the control socket (ops_control.go); nil without one
	wg    sync.WaitGroup

	// stopNotify stops the expiry notifier (notify.go).
	stopNotify func()
}

// Run starts every front described by cfg and serves until ctx is done,
// then stops accepting, finishes what is in flight, closes the store and
// returns nil. It returns an error when something could not start or a
// listener failed. Each configuration received on reload (SIGHUP, already
// loaded and validated) is applied with Reload; reload may be nil.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, reload <-chan config.Config) error {
	s, err := Start(ctx, cfg, log, Options{})
	if err != nil {
		return err
	}
	// Starting allocates what a running server never holds again (the
	// administrator's password hash is checked or made, at 64 MiB for
	// slapd-style argon2 parameters; the common-password list is read),
	// and Go returns freed memory to the system only slowly: an idle
	// server with 10,000 users kept 70 MiB of RSS for 14 MiB of live
	// heap. Hand it back once, now.
	debug.FreeOSMemory()
	go returnHashMemory(ctx, &s.obs.hashes, hashQuietAfter, debug.FreeOSMemory)
	var runErr error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case runErr = <-s.errc:
			break wait
		case c := <-reload:
			if err := s.Reload(c); err != nil {
				log.Error("reload incomplete", "err", err)
			}
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}

// Start opens the store and starts the fronts; it returns once every
// listener is bound.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) (*Server, error) {
	s := &Server{cfg: cfg, log: log, kv: o.KV, addrs: map[string]string{}, errc: make(chan error, 5)}
	s.obs = newObserver(cfg, log, s.storeSize)
	if s.kv == nil {
		db, err := badgerkv.Open(cfg.Store.Path, badgerkv.Options{Logger: log.With("component", "badger")})
		if err != nil {
			return nil, fmt.Errorf("opening store %s: %w", cfg.Store.Path, err)
		}
		s.kv = db
	}
	ok := false
	defer func() {
		if !ok {
			s.kv.Close()
		}
	}()
	var err error
	s.dir, err = store.Open(ctx, s.kv, store.Options{BaseDN: cfg.BaseDN, AdminDN: cfg.Admin.DN, Now: o.Now, OnChange: s.obs.change})
	if err != nil {
		return nil, err
	}
	// The notifier's index, for a store written before it existed (a
	// restored old backup); before the fronts, so no write races it.
	if n, err := s.dir.EnsurePwdChangedIndex(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.Info("built the password change index", "entries", n)
	}
	adminPW, err := cfg.Admin.ReadPassword()
	if err != nil {
		return nil, err
	}
	if err := cfg.Policy.HashWarning(); err != nil {
		log.Warn("weak password hashing parameters", "err", err)
	}
	// The seal key encrypts the NT hashes kept for MSCHAPv2. An
	// in-memory store (tests) gets an in-memory key, gone with it.
	sealKey := make([]byte, policy.SealKeySize)
	if o.KV == nil {
		if sealKey, err = loadSealKey(cfg.Store.Path); err != nil {
			return nil, err
		}
		if w := sealKeyWarning(cfg.Store.Path); w != "" {
			log.Warn("seal key file is readable by others", "file", filepath.Join(cfg.Store.Path, sealKeyFile), "problem", w)
		}
	} else if _, err := rand.Read(sealKey); err != nil {
		return nil, err
	}
	s.door, err = policy.New(s.dir, cfg.Policy, policy.Admin{DN: cfg.Admin.DN, Password: adminPW}, policy.Options{Now: o.Now, SealKey: sealKey, Observe: s.obs.credential})
	if err != nil {
		return nil, err
	}
	tlsConf, err := s.loadTLS(cfg.LDAP)
	if err != nil {
		return nil, err
	}
	s.ldap = ldapd.New(cfg.LDAP, s.door, s.dir, tlsConf, log.With("front", "ldap"))
	s.ldap.Observe(s.obs.ldapOperation)
	var lns []net.Listener
	listen := func(front, addr string, serve func(net.Listener) error) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("%s: listening on %s: %w", front, addr, err)
		}
		lns = append(lns, ln)
		s.addrs[front] = ln.Addr().String()
		log.Info("listening", "front", front, "addr", ln.Addr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := serve(ln); err != nil && !errors.Is(err, ldapd.ErrServerClosed) && !errors.Is(err, portal.ErrServerClosed) {
				s.errc <- fmt.Errorf("%s: serving %s: %w", front, addr, err)
			}
		}()
		return nil
	}
	if cfg.LDAP.Listen != "" {
		if err := listen("ldap", cfg.LDAP.Listen, s.ldap.Serve); err != nil {
			return nil, err
		}
	}
	if cfg.LDAP.LDAPSListen != "" {
		if err := listen("ldaps", cfg.LDAP.LDAPSListen, s.ldap.ServeTLS); err != nil {
			s.ldap.Shutdown(ctx)
			return nil, err
		}
	}
	if cfg.Radius.Listen != "" {
		s.radius, err = radiusd.New(cfg.Radius, s.door, s.dir, log.With("front", "radius"), radiusd.Options{CertDir: cfg.Store.Path, Now: o.Now})
		if err != nil {
			s.ldap.Shutdown(ctx)
			return nil, err
		}
		s.radius.Observe(s.obs.radiusRequest)
		pc, err := net.ListenPacket("udp", cfg.Radius.Listen)
		if err != nil {
			s.ldap.Shutdown(ctx)
			return nil, fmt.Errorf("radius: listening on %s: %w", cfg.Radius.Listen, err)
		}
		s.addrs["radius"] = pc.LocalAddr().String()
		log.Info("listening", "front", "radius", "addr", pc.LocalAddr().String())
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.radius.ServePacket(pc); err != nil && !errors.Is(err, radiusd.ErrServerClosed) {
				s.errc <- fmt.Errorf("radius: serving %s: %w", cfg.Radius.Listen, err)
			}
		}()
		if addr := cfg.Radius.AccountingAddr(); addr != "" {
			apc, err := net.ListenPacket("udp", addr)
			if err != nil {
				s.ldap.Shutdown(ctx)
				s.radius.Shutdown(ctx)
				return nil, fmt.Errorf("radius.accounting_listen: listening on %s: %w", addr, err)
			}
			s.addrs["radius-accounting"] = apc.LocalAddr().String()
			log.Info("listening", "front", "radius-accounting", "addr", apc.LocalAddr().String())
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := s.radius.ServeAccounting(apc); err != nil && !errors.Is(err, radiusd.ErrServerClosed) {
					s.errc <- fmt.Errorf("radius: serving accounting on %s: %w", addr, err)
				}
			}()
		}
	}
	if cfg.Portal.Listen != "" {
		if err := s.startPortal(cfg, o, listen); err != nil {
			s.ldap.Shutdown(ctx)
			if s.radius != nil {
				s.radius.Shutdown(ctx)
			}
			return nil, err
		}
	}
	if err := s.startNotifier(o.Now); err != nil {
		if s.portal != nil {
			s.portal.Shutdown(ctx)
		}
		s.ldap.Shutdown(ctx)
		if s.radius != nil {
			s.radius.Shutdown(ctx)
		}
		return nil, err
	}
	if o.KV == nil {
		// dird export, backup and mfa-reset reach a running server here.
		s.ctl = startControl(cfg, s.kv, s.dir, log, s.mfaReset)
	}
	if err := s.startMetrics(); err != nil {
		s.stopNotify()
		s.ctl.stop(ctx)
		if s.portal != nil {
			s.portal.Shutdown(ctx)
		}
		s.ldap.Shutdown(ctx)
		if s.radius != nil {
			s.radius.Shutdown(ctx)
		}
		s.wg.Wait()
		return nil, err
	}
	ok = true
	return s, nil
}

// startPortal builds the portal with its mail sender and starts it on
// portal.listen.
func (s *Server) startPortal(cfg config.Config, o Options, listen func(string, string, func(net.Listener) error) error) error {
	sender, err := mail.New(cfg.Mail, s.log.With("component", "mail"))
	if err != nil {
		return err
	}
	sender = s.observeMail(sender) // dird_mails_total
	p, err := portal.New(cfg.Portal, s.door, sender, s.log.With("front", "portal"), portal.Options{Now: o.Now, Audit: s.obs.audit})
	if err != nil {
		return err
	}
	if err := listen("portal", cfg.Portal.Listen, p.Serve); err != nil {
		p.Close()
		return err
	}
	s.portal = p
	return nil
}

// Addr returns the bound address of a front ("ldap", "ldaps", "radius",
// "portal"), or "".
func (s *Server) Addr(front string) string { return s.addrs[front] }

// Directory returns the directory (for tests and operations commands).
func (s *Server) Directory() *store.Directory { return s.dir }

// Door returns the policy door (for tests).
func (s *Server) Door() *policy.Door { return s.door }

// Err delivers a listener's failure.
func (s *Server) Err() <-chan error { return s.errc }

// Shutdown stops the fronts, waits for in-flight work until ctx is done,
// and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopMetrics(ctx)
	s.ctl.stop(ctx)
	s.stopNotify()
	err := s.ldap.Shutdown(ctx)
	if s.portal != nil {
		if perr := s.portal.Shutdown(ctx); perr != nil && err == nil {
			err = perr
		}
	}
	if s.radius != nil {
		if rerr := s.radius.Shutdown(ctx); rerr != nil && err == nil {
			err = rerr
		}
	}
	s.wg.Wait()
	if cerr := s.kv.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing store: %w", cerr)
	}
	return err
}
