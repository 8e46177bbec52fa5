package radiusd

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestPAPChallengesAreBounded(t *testing.T) {
	var logs strings.Builder
	tab := newPAPChallenges(slog.New(slog.NewTextHandler(&logs, nil)))
	tab.max = 3
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var added []*papChallenge
	for i := range 5 {
		c := &papChallenge{client: "ap", user: fmt.Sprintf("u%d", i)}
		if err := tab.add(c, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		if len(c.state) < 16 {
			t.Fatalf("State of %d bytes, want 16 or more", len(c.state))
		}
		added = append(added, c)
	}
	if n := tab.len(); n != 3 {
		t.Fatalf("%d challenges kept, want the bound 3", n)
	}
	if got := strings.Count(logs.String(), "radius PAP code challenge evicted"); got != 2 {
		t.Errorf("%d eviction log lines, want 2:\n%s", got, logs.String())
	}
	at := now.Add(5 * time.Second)
	for i, c := range added {
		got, _ := tab.take(c.state, "ap", at)
		if evicted := i < 2; (got == nil) != evicted {
			t.Errorf("challenge %d: taken %v, want evicted %v (the oldest go first)", i, got != nil, evicted)
		}
	}
}

func TestPAPChallengesTimeOutAndAreUsedOnce(t *testing.T) {
	tab := newPAPChallenges(slog.New(slog.DiscardHandler))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		client    string
		after     time.Duration
		wantFound bool
		wantOther bool
		wantKept  bool
	}{
		{"another client's answer is refused and leaves it", "ap2", time.Second, false, true, true},
		{"in time from its client", "ap", papChallengeTimeout - time.Second, true, false, false},
		{"the timeout has passed", "ap", papChallengeTimeout, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &papChallenge{client: "ap", user: "u"}
			if err := tab.add(c, now); err != nil {
				t.Fatal(err)
			}
			got, other := tab.take(c.state, tt.client, now.Add(tt.after))
			if (got != nil) != tt.wantFound || other != tt.wantOther {
				t.Fatalf("take: found %v other %v, want %v %v", got != nil, other, tt.wantFound, tt.wantOther)
			}
			if again, _ := tab.take(c.state, "ap", now); (again != nil) != tt.wantKept {
				t.Errorf("taken again: %v, want %v", again != nil, tt.wantKept)
			}
		})
	}
}
