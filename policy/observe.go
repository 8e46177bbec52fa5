package policy

import (
	"context"
	"time"

	"github.com/dird/dird/store"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventAuth is one authentication decision (Authenticate).
	EventAuth EventKind = iota + 1
	// EventLockout: failed attempts have just locked an account.
	EventLockout
	// EventPasswordChange: a user changed its own password.
	EventPasswordChange
	// EventPasswordReset: an administrator set a user's password (the
	// user must change it), or a reset flow did.
	EventPasswordReset
	// EventHashWait: a hash or verification got a slot in the bounded
	// hashing queue after waiting Wait.
	EventHashWait
	// EventTOTPRemoved: an administrator removed a user's second factor
	// (RemoveTOTP); Actor says who, Removal what.
	EventTOTPRemoved
)

// Event is one decision the door reports to Options.Observe, for the
// audit trail and the metrics. It never carries a secret or a hash.
type Event struct {
	Kind EventKind
	// Front and Client are where the request came from, as the front
	// said (empty when it did not).
	Front, Client string
	// User is whom the decision is about: the entry's DN when one was
	// found, else the DN or name the request gave.
	User string
	// Result is EventAuth's verdict; Outcome carries the warnings.
	Result  Result
	Outcome Outcome
	// Err is the technical failure or refusal, if any.
	Err error
	// Wait is EventHashWait's time in the queue.
	Wait time.Duration
	// Actor is who made EventTOTPRemoved's change (the administrator's
	// DN).
	Actor string
	// Removal is what EventTOTPRemoved took away.
	Removal TOTPRemoval
}

// emit tells the observer, if any, of e.
func (d *Door) emit(e Event) {
	if d.observe != nil {
		d.observe(e)
	}
}

// Authenticate checks one login attempt and applies every rule: lockout,
// the hourly throttle, expiry, grace logins, must-change, hash upgrades.
// An unknown user costs the same work as a known one, and a locked or
// expired account answers a wrong password like any wrong password.
// Every call is one EventAuth.
func (d *Door) Authenticate(ctx context.Context, l Login) (Outcome, error) {
	out, err := d.authenticate(ctx, l)
	user := l.Name
	switch {
	case out.DN != nil:
		user = out.DN.String()
	case l.DN != nil:
		user = l.DN.String()
	}
	d.emit(Event{Kind: EventAuth, Front: l.Front, Client: l.Client, User: user, Result: out.Result, Outcome: out, Err: err})
	return out, err
}

// ChangePassword applies a change after every check: access, the old
// password, quality, history. It returns the generated password when the
// change asked for one. A change that is made is one EventPasswordChange
// (by the user) or EventPasswordReset (by the administrator).
func (d *Door) ChangePassword(ctx context.Context, c Change) (generated []byte, err error) {
	generated, err = d.changePassword(ctx, c)
	if err == nil {
		target := c.Target
		if target == nil {
			target = c.Actor
		}
		d.emitPasswordSet(c.Front, c.Client, c.Actor, target)
	}
	return generated, err
}

// Modify applies an LDAP modify. The administrator may change anything,
// including userPassword (cleartext is checked and hashed; hashes are
// kept), pwdChangedTime, pwdAccountLockedTime and pwdReset, and may clear
// pwdFailureTime. A user may only change its own password, OpenLDAP-style:
// delete the old value and add the new one. A modify that sets a password
// is one EventPasswordChange or EventPasswordReset.
func (d *Door) Modify(ctx context.Context, actor, dn store.DN, mods []store.Mod) error {
	err := d.modify(ctx, actor, dn, mods)
	if err != nil {
		return err
	}
	for _, m := range mods {
		if store.LookupAttr(m.Type).Name == "userPassword" && m.Op != store.ModDelete && len(m.Values) > 0 {
			d.emitPasswordSet(FrontLDAP, "", actor, dn)
			break
		}
	}
	return nil
}

func (d *Door) emitPasswordSet(front, client string, actor, target store.DN) {
	kind := EventPasswordChange
	if d.IsAdmin(actor) && !target.Equal(actor) {
		kind = EventPasswordReset
	}
	d.emit(Event{Kind: kind, Front: front, Client: client, User: target.String()})
}
