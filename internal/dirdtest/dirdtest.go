// Package dirdtest starts a whole dird in-process on 127.0.0.1:0 for
// integration tests, over an in-memory store, and stops it when the test
// ends. It imports server (and store/memkv) and is imported only by tests.
package dirdtest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dird/dird/config"
	"github.com/dird/dird/server"
	"github.com/dird/dird/store/memkv"
)

// AdminDN and AdminPassword are the administrator of Config's directory.
const (
	AdminDN       = "cn=admin,dc=example,dc=com"
	AdminPassword = "admin-secret-test"
	BaseDN        = "dc=example,dc=com"
)

// Config returns a valid configuration for tests, loaded through
// config.Load so that every default applies: every listener on
// 127.0.0.1:0, cheap argon2 parameters (tests are not about hash cost).
func Config(t testing.TB) config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dird.yaml")
	yaml := `base_dn: ` + BaseDN + `
admin:
  dn: ` + AdminDN + `
  password: ` + AdminPassword + `
store:
  path: ` + filepath.Join(t.TempDir(), "data") + `
ldap:
  listen: 127.0.0.1:0
radius:
  listen: 127.0.0.1:0
portal:
  listen: 127.0.0.1:0
policy:
  argon2_memory: 7168
  argon2_time: 1
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("dirdtest: loading config: %v", err)
	}
	return cfg
}

// Clock is a movable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Dird is a running server.
type Dird struct {
	*server.Server
	// LDAPURL is ldap://host:port of the LDAP listener.
	LDAPURL string
	// RadiusAddr is host:port of the RADIUS (UDP) listener; "" when
	// radius.listen is empty.
	RadiusAddr string
	// RadiusAcctAddr is host:port of the RADIUS accounting listener;
	// "" when there is none.
	RadiusAcctAddr string
	Log            *LogBuffer
}

// Options tune Start.
type Options struct {
	// Now is the clock; nil: real time.
	Now func() time.Time
}

// Start runs dird with cfg until the test ends.
func Start(t testing.TB, cfg config.Config, o Options) *Dird {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("dirdtest: invalid config: %v", err)
	}
	logs := &LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := server.Start(context.Background(), cfg, log, server.Options{KV: memkv.New(), Now: o.Now})
	if err != nil {
		t.Fatalf("dirdtest: starting: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("dirdtest: shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("dird log:\n%s", logs.String())
		}
	})
	return &Dird{Server: s, LDAPURL: "ldap://" + s.Addr("ldap"), RadiusAddr: s.Addr("radius"), RadiusAcctAddr: s.Addr("radius-accounting"), Log: logs}
}

// LogBuffer collects log output safely across goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
