package store

import "errors"

// Sentinel errors, one per LDAP result the directory can cause. Fronts map
// them with errors.Is; the wrapped message is the diagnostic a client sees.
var (
	ErrNoSuchObject          = errors.New("store: no such object")
	ErrAlreadyExists         = errors.New("store: entry already exists")
	ErrNotAllowedOnNonLeaf   = errors.New("store: not allowed on non-leaf")
	ErrNotAllowedOnRDN       = errors.New("store: not allowed on RDN")
	ErrConstraintViolation   = errors.New("store: constraint violation")
	ErrAttributeOrValueExist = errors.New("store: attribute or value exists")
	ErrNoSuchAttribute       = errors.New("store: no such attribute")
	ErrNamingViolation       = errors.New("store: naming violation")
	ErrUnwillingToPerform    = errors.New("store: unwilling to perform")
	ErrSizeLimitExceeded     = errors.New("store: size limit exceeded")
	// ErrCredentialAttribute is returned when a write that did not come
	// through Credentials touches a credential attribute.
	ErrCredentialAttribute = errors.New("store: credential attributes are written only by the policy door")
)
