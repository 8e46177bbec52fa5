package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestPortalWiring: dird serve starts the portal on portal.listen (its
// /healthz answers), a lockout on any front writes one audit line, and
// Shutdown stops the portal.
func TestPortalWiring(t *testing.T) {
	cfg := opsConfig(t)
	cfg.Policy.LockoutThreshold = 2
	var logBuf syncBuffer
	s, err := Start(context.Background(), cfg, slog.New(slog.NewJSONHandler(&logBuf, nil)), Options{KV: memkv.New()})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			s.Shutdown(context.Background())
		}
	}()
	addr := s.Addr("portal")
	if addr == "" {
		t.Fatal("no portal address")
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("/healthz: %d %q", resp.StatusCode, body)
	}

	ctx := context.Background()
	dn, _ := store.ParseDN("uid=alice,dc=example,dc=com")
	e := &store.Entry{DN: dn}
	e.Set("objectClass", "inetOrgPerson")
	e.Set("uid", "alice")
	e.Set("cn", "Alice Liddell")
	e.Set("sn", "Liddell")
	e.Set("userPassword", "Tulip-Orbit-93")
	if err := s.Door().Add(ctx, s.Door().AdminDN(), e); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		s.Door().Authenticate(ctx, policy.Login{Front: policy.FrontLDAP, DN: dn, Secret: []byte("Wrong-Guess-17")})
	}
	var found bool
	for _, line := range strings.Split(logBuf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["audit"] == true && rec["msg"] == "account locked" && strings.Contains(fmt.Sprint(rec["user"]), "uid=alice") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no audit line for the lockout in:\n%s", logBuf.String())
	}

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("the portal still answers after Shutdown")
	}
}
