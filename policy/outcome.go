package policy

import (
	"errors"
	"time"

	"github.com/dird/dird/store"
)

// Result is the verdict of one authentication.
type Result int

const (
	// OK: the secret is right and the account may log in (see the
	// warnings on Outcome).
	OK Result = iota
	// InvalidCredentials: wrong secret, unknown user, or an account state
	// that must not be disclosed because the secret was wrong.
	InvalidCredentials
	// Locked: the secret was right but the account is locked (failures,
	// throttle, or an administrator's lock).
	Locked
	// Expired: the secret was right but the password has expired (also
	// when lock_on_expiry locked the account for it).
	Expired
)

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case InvalidCredentials:
		return "invalid credentials"
	case Locked:
		return "locked"
	case Expired:
		return "expired"
	}
	return "unknown"
}

// Outcome is what every front receives from Authenticate and maps onto its
// protocol.
type Outcome struct {
	Result Result
	// ExpiresIn is set (> 0) when the password expires within
	// policy.expire_warning.
	ExpiresIn time.Duration
	// GraceRemaining is the number of grace logins left after this one
	// when this login used a grace login; -1 otherwise.
	GraceRemaining int
	// MustChange: an administrator set the password (pwdReset); the user
	// must change it before doing anything else.
	MustChange bool
	// Admin: the configured administrator authenticated.
	Admin bool
	// DN is the authenticated identity (also set for Locked and Expired).
	DN store.DN
	// Entry is the user's entry after the authentication (nil for the
	// administrator and for InvalidCredentials).
	Entry *store.Entry
}

// Fronts name where an attempt came from (for the audit trail).
const (
	FrontLDAP   = "ldap"
	FrontRADIUS = "radius"
	FrontPortal = "portal"
)

// Login is one authentication attempt. Exactly one of DN and Name is set:
// LDAP binds with a DN, RADIUS and the portal with the uid.
type Login struct {
	Front  string
	DN     store.DN
	Name   string
	Secret []byte
	// Client is where the attempt came from (an IP address and port, or
	// a RADIUS client's name and address), for the audit trail only.
	Client string
}

// Errors of the password-change and write paths. Fronts map them with
// errors.Is / errors.As; QualityError (rules.go) carries the rule broken.
var (
	ErrInvalidCredentials = errors.New("policy: invalid credentials")
	// ErrMustSupplyOld: a user changing its own password must give the
	// old one.
	ErrMustSupplyOld = errors.New("policy: old password required to change your own password")
	// ErrOldPasswordWrong: the old password given does not verify.
	ErrOldPasswordWrong = errors.New("policy: unwilling to verify old password")
	// ErrInsufficientAccess: the actor may not make this change.
	ErrInsufficientAccess = errors.New("policy: insufficient access")
	// ErrMustChange: the account must change its password first
	// (pwdReset) and tried to do something else.
	ErrMustChange = errors.New("policy: operations are restricted to bind/unbind/abandon/StartTLS/modify password")
	// ErrBusy: the hashing queue did not free up before the deadline.
	ErrBusy = errors.New("policy: too many authentications in progress")
	// ErrOnePassword: ppolicy allows a single userPassword value.
	ErrOnePassword = errors.New("policy: password policy only allows one password value")
	// ErrNoUserModification: the attribute is maintained by the server.
	ErrNoUserModification = errors.New("policy: no user modification allowed")
	// ErrAccountExpired: a self-service change on an account that
	// lock_on_expiry has locked (only an administrator restores it).
	ErrAccountExpired = errors.New("policy: password expired, contact your administrator")
	// ErrAccountLocked: a change attempted on a locked account.
	ErrAccountLocked = errors.New("policy: account locked")
)
