package policy

import (
	"time"

	"github.com/dird/dird/store"
)

// MaxAge is the password lifetime in force; 0: passwords never expire.
func (d *Door) MaxAge() time.Duration { return d.cfg.MaxAge }

// ExpiresAt returns when the password of e expires, by the rule
// Authenticate applies (pwdChangedTime + policy.max_age); ok is false
// when it never does: no max_age, no pwdChangedTime, or no password at
// all. It says nothing of whether it has expired: compare with the clock.
// It reads only the entry's state, never its password.
func (d *Door) ExpiresAt(e *store.Entry) (time.Time, bool) {
	if e == nil || len(e.Get("userPassword")) == 0 {
		return time.Time{}, false
	}
	exp := d.expiresAt(readState(e))
	return exp, !exp.IsZero()
}
