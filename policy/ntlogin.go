package policy

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/dird/dird/store"
)

// NTLogin is one MS-CHAPv2 attempt (RADIUS MS-CHAPv2, EAP-MSCHAPv2 inside
// PEAP or EAP-TTLS). The door never hands out the NT hash: the front
// passes Check, which the door calls with the user's opened NT hash and
// which says whether the peer's NT-Response proves it. Check may keep
// what it derives from the hash for the reply (the authenticator
// response, MPPE keys), but not the hash itself.
type NTLogin struct {
	Front string
	// Client is where the attempt came from, for the audit trail (as
	// Login.Client).
	Client string
	// Name is the uid (without any Windows domain prefix).
	Name string
	// Check reports whether the attempt's response was made with ntHash
	// (16 bytes). It must be cheap and must not keep ntHash, which the
	// door clears afterwards.
	Check func(ntHash []byte) bool
}

// AuthenticateNT is Authenticate for MS-CHAPv2: the same lookup, lockout,
// hourly throttle, expiry, grace logins and failure counting (a wrong
// response is a failure toward the same lockout as an LDAP bind), decided
// by the same code. Two differences: the previous passwords cannot be
// recognised (only the current NT hash is kept), so every wrong response
// counts; and a user for whom no NT hash is kept (policy.nt_hash off, a
// password set before it was turned on or imported as a hash, the entry
// renamed since) gets InvalidCredentials with NoNTHash set, so the front
// can log why. An unknown user costs the same work as a known one. Every
// call is one EventAuth, as for Authenticate.
func (d *Door) AuthenticateNT(ctx context.Context, l NTLogin) (Outcome, error) {
	out, err := d.authenticateNT(ctx, l)
	user := l.Name
	if out.DN != nil {
		user = out.DN.String()
	}
	d.emit(Event{Kind: EventAuth, Front: l.Front, Client: l.Client, User: user, Result: out.Result, Outcome: out, Err: err})
	return out, err
}

func (d *Door) authenticateNT(ctx context.Context, l NTLogin) (Outcome, error) {
	if l.Check == nil {
		return Outcome{GraceRemaining: -1, Result: InvalidCredentials}, errors.New("policy: NTLogin without Check")
	}
	var e *store.Entry
	if l.Name != "" {
		var err error
		e, err = d.dir.FindUnique(ctx, "uid", l.Name)
		if err != nil && !errors.Is(err, store.ErrNoSuchObject) {
			return Outcome{GraceRemaining: -1, Result: InvalidCredentials}, err
		}
	}
	return d.decide(ctx, e, d.ntProof(l.Check))
}

// ntProof checks an MS-CHAPv2 response against the sealed NT hash. An
// unknown user costs what a known one's check costs; a known user's wrong
// response costs a write more (the failure), which no hashing hides here:
// the fronts hide it, since RADIUS sends every Access-Reject a second
// after its request (reject_delay).
func (d *Door) ntProof(check func([]byte) bool) proof {
	var h []byte // the hash has opened, for check (one attempt's proof)
	return proof{
		nt: true,
		has: func(e *store.Entry) bool {
			h = d.ntHashOf(e)
			return h != nil
		},
		check: func(context.Context, *store.Entry) (bool, error) {
			defer clear(h)
			return check(h), nil
		},
		dummy: func(context.Context) error {
			// What a known user's check costs: opening a sealed value and
			// the front's check, with a hash nobody has.
			var h [16]byte
			rand.Read(h[:])
			if d.seal != nil {
				if sealed, err := d.seal.seal(ntHashAttr, store.DN{}, h[:]); err == nil {
					d.seal.open(ntHashAttr, store.DN{}, sealed)
				}
			}
			check(h[:])
			return nil
		},
	}
}
