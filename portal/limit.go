package portal

import (
	"sync"
	"time"
)

// limiter allows n events per key within a sliding window. It is the
// portal's anti-automation for reset requests (per client address and
// per account: mailbox flooding) and logins (per client address); the
// door's own hourly throttle and lockout still apply per account. Keys
// are bounded: when maxKeys distinct keys are live, new keys are refused,
// which fails closed under a flood of addresses.
type limiter struct {
	n      int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex // guards seen
	seen map[string][]time.Time
}

const maxKeys = 100_000

func newLimiter(n int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{n: n, window: window, now: now, seen: map[string][]time.Time{}}
}

// allow records an event for key and reports whether it is within the
// limit.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	recent := l.recentLocked(key, now)
	if len(recent) >= l.n {
		l.seen[key] = recent
		return false
	}
	if len(recent) == 0 && len(l.seen) >= maxKeys {
		l.pruneLocked(now)
		if len(l.seen) >= maxKeys {
			return false
		}
	}
	l.seen[key] = append(recent, now)
	return true
}

func (l *limiter) recentLocked(key string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.seen[key] {
		if now.Sub(t) < l.window {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		delete(l.seen, key)
	}
	return keep
}

func (l *limiter) pruneLocked(now time.Time) {
	for k := range l.seen {
		l.recentLocked(k, now)
	}
}
