package radiusd

import (
	"container/list"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// A second factor over PAP. When the password is right and the account
// has a confirmed authenticator app (policy's TOTP), the server answers
// Access-Challenge (RFC 2865 §4.4) with a Reply-Message asking for the
// code and a random State. The access point or VPN shows the message and
// sends a new Access-Request with that State and the code in
// User-Password; the server checks it with policy.VerifyTOTP (replay,
// throttling and recovery codes are policy's) and sends the Access-Accept
// it had decided at the first leg (expiry warning, VLAN and the other
// group replies), or an Access-Reject.
//
// MS-CHAPv2 and EAP (PEAP, EAP-TTLS) have no way to ask for a code:
// authorize refuses an account with TOTP for them, so the second factor
// cannot be skipped by choosing another method.

// Pending PAP challenges: at most maxPAPChallenges, the oldest evicted
// first (and logged), each good for papChallengeTimeout and for one
// answer. A minute is FreeRADIUS's timer_expire for EAP, and enough to
// open an app and type six digits.
const (
	maxPAPChallenges    = 4096
	papChallengeTimeout = 60 * time.Second
)

// Reply-Messages of the second factor.
const (
	msgEnterCode       = "Enter the 6-digit code from your authenticator app"
	msgCodeWrong       = "The code is not right; log in again and enter the current code from your authenticator app"
	msgCodeThrottled   = "Too many wrong codes; wait a minute, then log in again"
	msgCodeUnreadable  = "Your authenticator app cannot be checked; contact your administrator"
	msgCodeStale       = "The code was not asked for, or was asked too long ago; log in again"
	msgNeedsPAP        = "Your account uses an authenticator app, which this sign-in method cannot ask for; use PAP or contact your administrator"
	logSecondFactorEAP = "the account has an authenticator app (TOTP) and this method cannot ask for a code; only PAP can (Access-Challenge)"
)

// papChallenge is one PAP login waiting for its code.
type papChallenge struct {
	state string
	// client is the client's name, as for EAP: a reload of
	// radius.clients makes new client values, and a login may span it.
	client string
	user   string // User-Name of the first leg; the second must match
	dn     store.DN
	// guard is the entry's lock and password-change state once the
	// first leg's authentication was recorded: a lock or a new password
	// meanwhile voids the challenge.
	guard   accountGuard
	accept  reply // sent when the code is right
	expires time.Time
	elem    *list.Element
}

// papChallenges is the table of pending challenges.
type papChallenges struct {
	log     *slog.Logger
	max     int
	timeout time.Duration

	mu      sync.Mutex // guards byState, order
	byState map[string]*papChallenge
	order   *list.List // of *papChallenge, oldest (first to expire) first
}

func newPAPChallenges(log *slog.Logger) *papChallenges {
	return &papChallenges{log: log, max: maxPAPChallenges, timeout: papChallengeTimeout,
		byState: map[string]*papChallenge{}, order: list.New()}
}

// add keeps c under a new random State, making room first.
func (t *papChallenges) add(c *papChallenge, now time.Time) error {
	var st [stateLength]byte
	if _, err := rand.Read(st[:]); err != nil {
		return fmt.Errorf("drawing a State: %w", err)
	}
	c.state = string(st[:])
	c.expires = now.Add(t.timeout)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	for len(t.byState) >= t.max {
		old := t.order.Front().Value.(*papChallenge)
		t.removeLocked(old)
		t.log.Warn("radius PAP code challenge evicted: too many logins waiting for a code",
			"max", t.max, "client", old.client, "user", old.user, "age", now.Sub(old.expires.Add(-t.timeout)).Round(time.Millisecond).String())
	}
	c.elem = t.order.PushBack(c)
	t.byState[c.state] = c
	return nil
}

// take removes and returns the challenge with state asked of client. It
// returns nil when there is none (never made, expired, evicted or
// answered already); otherClient is set when state belongs to another
// client, whose challenge is left alone.
func (t *papChallenges) take(state, client string, now time.Time) (c *papChallenge, otherClient bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now)
	c = t.byState[state]
	if c == nil {
		return nil, false
	}
	if c.client != client {
		return nil, true
	}
	t.removeLocked(c)
	return c, false
}

func (t *papChallenges) expireLocked(now time.Time) {
	for e := t.order.Front(); e != nil; e = t.order.Front() {
		c := e.Value.(*papChallenge)
		if now.Before(c.expires) {
			return
		}
		t.removeLocked(c)
	}
}

func (t *papChallenges) removeLocked(c *papChallenge) {
	delete(t.byState, c.state)
	t.order.Remove(c.elem)
}

// len is the number of pending challenges (for tests).
func (t *papChallenges) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byState)
}

// accountGuard is what must not change between the two legs: an
// administrator's or the lockout's lock (pwdAccountLockedTime) and the
// password (pwdChangedTime). Policy has no status check without a
// password, so the second leg compares these instead of judging them.
type accountGuard struct {
	lockedAt, changedAt string
}

func guardOf(e *store.Entry) accountGuard {
	return accountGuard{lockedAt: e.First("pwdAccountLockedTime"), changedAt: e.First("pwdChangedTime")}
}

// voidedBy says why the account as it is now, e, voids a challenge made
// under g: "locked" (a lock set since), "changed" (a new password), or
// "" when neither. A lock lifted meanwhile voids nothing.
func (g accountGuard) voidedBy(e *store.Entry) string {
	now := guardOf(e)
	switch {
	case now.lockedAt != "" && now.lockedAt != g.lockedAt:
		return "locked"
	case now.changedAt != g.changedAt:
		return "changed"
	}
	return ""
}

// papChallenge answers a right password of an account with TOTP: it
// keeps accept for the second leg and asks for the code.
func (s *Server) papChallenge(ctx context.Context, r *request, user string, out policy.Outcome, accept reply, logArgs []any) reply {
	// Read afresh: out.Entry is from before the success was recorded
	// (which lifts a lock that has run out).
	e, err := s.dir.Get(ctx, out.DN)
	if err != nil {
		return s.failure(r, fmt.Errorf("reading the account before asking its code: %w", err), logArgs)
	}
	c := &papChallenge{client: r.client.name, user: user, dn: out.DN, guard: guardOf(e), accept: accept}
	if err := s.paps.add(c, s.now()); err != nil {
		return s.failure(r, err, logArgs)
	}
	s.log.Info("radius access challenged: authentication code asked", logArgs...)
	return reply{code: radius.CodeAccessChallenge, message: msgEnterCode,
		attrs: radius.Attributes{{Type: rfc2865.State_Type, Attribute: radius.Attribute(c.state)}}}
}

// papCode answers the second leg: an Access-Request with the State of a
// challenge and the code in User-Password.
func (s *Server) papCode(ctx context.Context, r *request, user, state string, code []byte, logArgs []any) reply {
	logArgs = append(logArgs, "second_factor", "totp")
	c, otherClient := s.paps.take(state, r.client.name, s.now())
	switch {
	case otherClient:
		s.log.Warn("radius access rejected: the State answers a code challenge sent to another client", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgCodeStale}
	case c == nil:
		s.log.Warn("radius access rejected: unknown, expired or already answered State (code challenge timed out, evicted, or never made here)", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgCodeStale}
	case user != c.user:
		s.log.Warn("radius access rejected: the User-Name is not the one the code was asked of", append(logArgs, "challenged_user", c.user)...)
		return reply{code: radius.CodeAccessReject, message: msgWrong}
	}
	logArgs = append(logArgs, "dn", c.dn.String())
	e, err := s.dir.Get(ctx, c.dn)
	switch {
	case errors.Is(err, store.ErrNoSuchObject):
		s.log.Warn("radius access rejected: the account was deleted while its code was asked", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgWrong}
	case err != nil:
		return s.failure(r, fmt.Errorf("reading the account before its code: %w", err), logArgs)
	}
	switch c.guard.voidedBy(e) {
	case "locked":
		s.log.Warn("radius access rejected: the account was locked while its code was asked", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgLocked}
	case "changed":
		s.log.Warn("radius access rejected: the password changed while the code was asked", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgCodeStale}
	}
	err = s.door.VerifyTOTP(ctx, c.dn, string(code))
	switch {
	case err == nil:
		s.log.Info("radius access", append(logArgs, "result", "ok")...)
		return c.accept
	case errors.Is(err, policy.ErrTOTPThrottled):
		s.log.Warn("radius access rejected: too many wrong authentication codes in the last minute", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgCodeThrottled}
	case errors.Is(err, policy.ErrTOTPUnreadable):
		s.log.Error("radius access rejected: the account's TOTP secret cannot be opened (seal key changed, or the entry renamed since enrolment)", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgCodeUnreadable}
	case errors.Is(err, policy.ErrTOTPWrong), errors.Is(err, policy.ErrTOTPRequired):
		s.log.Warn("radius access rejected: wrong, reused or empty authentication code", logArgs...)
		return reply{code: radius.CodeAccessReject, message: msgCodeWrong}
	}
	return s.failure(r, fmt.Errorf("checking the authentication code: %w", err), logArgs)
}

// needsSecondFactor reports whether the authenticated account has TOTP,
// which MS-CHAPv2 and EAP cannot ask for; it logs why it refuses. A
// failure to read counts as having one: the factor is not skipped.
func (s *Server) needsSecondFactor(ctx context.Context, out policy.Outcome, logArgs []any) bool {
	if out.DN == nil || out.Admin {
		return false
	}
	has, err := s.door.HasTOTP(ctx, out.DN)
	if err != nil {
		s.log.Error("radius access rejected: reading whether the account has an authenticator app failed", append(logArgs, "err", err.Error())...)
		return true
	}
	if has {
		s.log.Warn("radius access rejected: "+logSecondFactorEAP, logArgs...)
	}
	return has
}
