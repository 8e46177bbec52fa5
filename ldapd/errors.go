package ldapd

import (
	"errors"
	"strings"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// LDAP result codes (RFC 4511 Appendix A).
const (
	resultSuccess                = 0
	resultOperationsError        = 1
	resultProtocolError          = 2
	resultTimeLimitExceeded      = 3
	resultSizeLimitExceeded      = 4
	resultCompareFalse           = 5
	resultCompareTrue            = 6
	resultAuthMethodNotSupported = 7
	resultStrongAuthRequired     = 8
	resultUnavailableCritical    = 12
	resultConfidentialityReq     = 13
	resultNoSuchAttribute        = 16
	resultUndefinedAttributeType = 17
	resultConstraintViolation    = 19
	resultAttributeOrValueExists = 20
	resultInvalidAttributeSyntax = 21
	resultNoSuchObject           = 32
	resultInvalidDNSyntax        = 34
	resultInvalidCredentials     = 49
	resultInsufficientAccess     = 50
	resultBusy                   = 51
	resultUnavailable            = 52
	resultUnwillingToPerform     = 53
	resultNamingViolation        = 64
	resultObjectClassViolation   = 65
	resultNotAllowedOnNonLeaf    = 66
	resultNotAllowedOnRDN        = 67
	resultEntryAlreadyExists     = 68
	resultOther                  = 80
)

// resultFor is the front's one mapping from errors to LDAP results: the
// code from the sentinel, the diagnostic from the wrapped detail (which is
// built to be shown), and the ppolicy error when there is one.
func resultFor(err error) (Result, int) {
	pp := ppNoError
	code := resultOther
	if q, ok := policy.ErrIsQuality(err); ok {
		return Result{Code: resultConstraintViolation, Diagnostic: q.Message}, q.PPolicyError
	}
	table := []struct {
		err  error
		code int
		pp   int
	}{
		{store.ErrNoSuchObject, resultNoSuchObject, ppNoError},
		{store.ErrAlreadyExists, resultEntryAlreadyExists, ppNoError},
		{store.ErrObjectClassViolation, resultObjectClassViolation, ppNoError},
		{store.ErrNotAllowedOnNonLeaf, resultNotAllowedOnNonLeaf, ppNoError},
		{store.ErrNotAllowedOnRDN, resultNotAllowedOnRDN, ppNoError},
		{store.ErrConstraintViolation, resultConstraintViolation, ppNoError},
		{store.ErrAttributeOrValueExist, resultAttributeOrValueExists, ppNoError},
		{store.ErrNoSuchAttribute, resultNoSuchAttribute, ppNoError},
		{store.ErrNamingViolation, resultNamingViolation, ppNoError},
		{store.ErrUnwillingToPerform, resultUnwillingToPerform, ppNoError},
		{store.ErrInvalidSyntax, resultInvalidAttributeSyntax, ppNoError},
		{store.ErrInvalidDN, resultInvalidDNSyntax, ppNoError},
		{store.ErrCredentialAttribute, resultInsufficientAccess, ppNoError},
		{store.ErrSizeLimitExceeded, resultSizeLimitExceeded, ppNoError},
		{policy.ErrMustSupplyOld, resultUnwillingToPerform, ppMustSupplyOldPassword},
		{policy.ErrOldPasswordWrong, resultUnwillingToPerform, ppNoError},
		{policy.ErrInsufficientAccess, resultInsufficientAccess, ppNoError},
		{policy.ErrMustChange, resultInsufficientAccess, ppChangeAfterReset},
		{policy.ErrBusy, resultBusy, ppNoError},
		{policy.ErrOnePassword, resultConstraintViolation, ppNoError},
		{policy.ErrNoUserModification, resultConstraintViolation, ppNoError},
		{policy.ErrAccountExpired, resultInsufficientAccess, ppPasswordExpired},
		{policy.ErrAccountLocked, resultInsufficientAccess, ppAccountLocked},
	}
	for _, t := range table {
		if errors.Is(err, t.err) {
			code, pp = t.code, t.pp
			return Result{Code: code, Diagnostic: diagnostic(err, t.err)}, pp
		}
	}
	return Result{Code: code, Diagnostic: "internal error"}, pp
}

// diagnostic strips the sentinel's "pkg: " prefix so clients read the
// detail, e.g. "object class 'person' requires attribute 'sn'".
func diagnostic(err, sentinel error) string {
	msg := err.Error()
	s := sentinel.Error()
	if i := strings.Index(msg, s); i >= 0 {
		rest := strings.TrimPrefix(msg[i+len(s):], ": ")
		if rest != "" {
			return rest
		}
	}
	if i := strings.Index(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
