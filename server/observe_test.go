package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dird/dird/config"
	"github.com/dird/dird/mail"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

func TestAuthOutcome(t *testing.T) {
	for _, tc := range []struct {
		name    string
		e       policy.Event
		outcome string
		reason  string
	}{
		{"a verified password", policy.Event{Result: policy.OK, Outcome: policy.Outcome{GraceRemaining: -1}}, "ok", "password verified"},
		{"the administrator", policy.Event{Result: policy.OK, Outcome: policy.Outcome{Admin: true, GraceRemaining: -1}}, "ok", "administrator"},
		{"must change", policy.Event{Result: policy.OK, Outcome: policy.Outcome{MustChange: true, GraceRemaining: -1}}, "ok", "password must be changed (pwdReset)"},
		{"a grace login", policy.Event{Result: policy.OK, Outcome: policy.Outcome{GraceRemaining: 1}}, "ok", "grace login, 1 left"},
		{"expiring soon", policy.Event{Result: policy.OK, Outcome: policy.Outcome{ExpiresIn: 49 * time.Hour, GraceRemaining: -1}}, "ok", "password expires in 49h0m0s"},
		{"a wrong password", policy.Event{Result: policy.InvalidCredentials}, "invalid_credentials", "invalid credentials"},
		{"locked", policy.Event{Result: policy.Locked}, "locked", "account locked"},
		{"expired", policy.Event{Result: policy.Expired}, "expired", "password expired"},
		{"busy", policy.Event{Result: policy.InvalidCredentials, Err: policy.ErrBusy}, "error", "busy: too many authentications in progress"},
		{"a failure", policy.Event{Result: policy.InvalidCredentials, Err: errors.New("reading x: disk on fire")}, "error", "reading x: disk on fire"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outcome, reason := authOutcome(tc.e)
			if outcome != tc.outcome || reason != tc.reason {
				t.Errorf("authOutcome = %q, %q; want %q, %q", outcome, reason, tc.outcome, tc.reason)
			}
		})
	}
}

type failingSender struct{}

func (failingSender) Send(context.Context, mail.Message) error { return errors.New("relay refused") }

// TestObserverLinesAndCounts: the observer writes audit=true lines, even
// below log.level, and counts mail through observeMail.
func TestObserverLinesAndCounts(t *testing.T) {
	var buf bytes.Buffer
	// At error level: the audit trail is written whatever log.level says.
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError}))
	var cfg config.Config
	cfg.Metrics.Listen = "127.0.0.1:0"
	s := &Server{}
	s.obs = newObserver(cfg, log, nil)
	dn, _ := store.ParseDN("uid=alice,dc=example,dc=com")
	s.obs.change(store.Change{Actor: "cn=admin,dc=example,dc=com", Op: "modify", DN: dn, Attrs: []string{"mail"}})
	s.obs.credential(policy.Event{Kind: policy.EventLockout, User: dn.String()})
	var recs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 2 || recs[0]["msg"] != "directory change" || recs[1]["msg"] != "account locked" {
		t.Fatalf("lines = %v", recs)
	}
	for _, rec := range recs {
		if rec["audit"] != true {
			t.Errorf("line without audit=true: %v", rec)
		}
	}

	ok, err := mail.New(mail.Config{Driver: "log", From: "dird@example.com", SMTPHost: "x", SMTPPort: 25}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s.observeMail(ok).Send(context.Background(), mail.Message{To: "a@example.com", Subject: "s", Body: "b"})
	s.observeMail(failingSender{}).Send(context.Background(), mail.Message{To: "a@example.com", Subject: "s", Body: "b"})
	rec := httptest.NewRecorder()
	s.obs.m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{`dird_mails_total{result="sent"} 1`, `dird_mails_total{result="failed"} 1`, `dird_lockouts_total 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
