package policy

import (
	"testing"
	"time"

	"github.com/dird/dird/store"
)

// TestExpiresAt: the rule the notifier reads is the one Authenticate
// applies: pwdChangedTime + max_age, nothing without max_age, a change
// time or a password.
func TestExpiresAt(t *testing.T) {
	changed := "20250201100000Z"
	at := time.Date(2025, 2, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		maxAge time.Duration
		uid    string
		pw     string
		extra  []store.Attr
		want   time.Time
		wantOK bool
	}{
		{"max_age after the change", 30 * 24 * time.Hour, "alice", ssha(alicePW), []store.Attr{{Type: "pwdChangedTime", Values: []string{changed}}}, at.Add(30 * 24 * time.Hour), true},
		{"a password the administrator set (pwdReset) expires alike", 30 * 24 * time.Hour, "alice", ssha(alicePW), []store.Attr{{Type: "pwdChangedTime", Values: []string{changed}}, {Type: "pwdReset", Values: []string{"TRUE"}}}, at.Add(30 * 24 * time.Hour), true},
		{"max_age 0 never expires", 0, "alice", ssha(alicePW), []store.Attr{{Type: "pwdChangedTime", Values: []string{changed}}}, time.Time{}, false},
		{"no password never expires", 30 * 24 * time.Hour, "alice", "", nil, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxAge = tt.maxAge
			h := newHarness(t, cfg)
			dn := h.addUser(tt.uid, tt.pw, tt.extra...)
			got, ok := h.door.ExpiresAt(h.entry(dn))
			if !got.Equal(tt.want) || ok != tt.wantOK {
				t.Errorf("ExpiresAt = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
			if h.door.MaxAge() != tt.maxAge {
				t.Errorf("MaxAge = %v, want %v", h.door.MaxAge(), tt.maxAge)
			}
		})
	}
}
