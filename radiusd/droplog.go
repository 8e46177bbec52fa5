package radiusd

import (
	"net/netip"
	"sync"
	"time"
)

// A dropped packet gets no reply, so the log is the only place an
// administrator can see why an access point gets no answer. But a
// misconfigured access point (or an attacker) can send thousands of
// packets a second, so each source address is logged at most once per
// dropLogInterval for each reason, with the count of drops not logged
// since.
const (
	dropLogInterval = time.Minute
	dropLogMaxKeys  = 4096
)

type dropKey struct {
	src    netip.Addr
	reason string
}

type dropState struct {
	last       time.Time
	suppressed int
}

// dropLog decides which drops are logged.
type dropLog struct {
	mu    sync.Mutex // guards seen, swept
	seen  map[dropKey]*dropState
	swept time.Time
}

// allow reports whether a drop from src for reason is logged now, and how
// many drops of the kind were not logged since the last one.
func (d *dropLog) allow(src netip.Addr, reason string, now time.Time) (ok bool, suppressed int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.seen == nil {
		d.seen = map[dropKey]*dropState{}
	}
	k := dropKey{src, reason}
	st := d.seen[k]
	if st != nil && now.Sub(st.last) < dropLogInterval {
		st.suppressed++
		return false, 0
	}
	if st == nil {
		if len(d.seen) >= dropLogMaxKeys && now.Sub(d.swept) >= time.Second {
			d.swept = now
			for k, s := range d.seen {
				if now.Sub(s.last) >= dropLogInterval {
					delete(d.seen, k)
				}
			}
		}
		if len(d.seen) >= dropLogMaxKeys {
			return false, 0 // too many sources at once: stay quiet rather than grow
		}
		st = &dropState{}
		d.seen[k] = st
	}
	suppressed, st.suppressed, st.last = st.suppressed, 0, now
	return true, suppressed
}
