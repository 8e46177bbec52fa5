package ldapd

import (
	"errors"
	"fmt"
	"math"
)

// OIDs of the controls, extended operations and features dird knows; the
// RootDSE's supportedControl, supportedExtension and supportedFeatures
// lists should be built from these. Unused ones are here so that a
// critical control can be recognised and refused by name.
const (
	// Controls.
	oidPagedResults       = "1.2.840.113556.1.4.319"    // RFC 2696
	oidPasswordPolicy     = "1.3.6.1.4.1.42.2.27.8.5.1" // draft-behera-ldap-password-policy §6
	oidManageDsaIT        = "2.16.840.1.113730.3.4.2"   // RFC 3296
	oidServerSideSort     = "1.2.840.113556.1.4.473"    // RFC 2891 (not supported: reject if critical)
	oidSubtreeDelete      = "1.2.840.113556.1.4.805"    // draft-armijo-ldap-treedelete
	oidPermissiveModify   = "1.2.840.113556.1.4.1413"   // AD permissive modify, sent by some tools
	oidProxiedAuthz       = "2.16.840.1.113730.3.4.18"  // RFC 4370
	oidAssertion          = "1.3.6.1.1.12"              // RFC 4528
	oidPreRead            = "1.3.6.1.1.13.1"            // RFC 4527
	oidPostRead           = "1.3.6.1.1.13.2"            // RFC 4527
	oidDontUseCopy        = "1.3.6.1.1.22"              // RFC 6171
	oidNetscapePwExpired  = "2.16.840.1.113730.3.4.4"   // draft-vchu-ldap-pwd-policy
	oidNetscapePwExpiring = "2.16.840.1.113730.3.4.5"   // draft-vchu-ldap-pwd-policy

	// Extended operations and unsolicited notifications.
	oidPasswordModify        = "1.3.6.1.4.1.4203.1.11.1" // RFC 3062
	oidWhoAmI                = "1.3.6.1.4.1.4203.1.11.3" // RFC 4532
	oidStartTLS              = "1.3.6.1.4.1.1466.20037"  // RFC 4511 §4.14
	oidCancel                = "1.3.6.1.1.8"             // RFC 3909
	oidNoticeOfDisconnection = "1.3.6.1.4.1.1466.20036"  // RFC 4511 §4.4.1

	// Features (RFC 3674).
	oidFeatureAllOpAttrs = "1.3.6.1.4.1.4203.1.5.1" // RFC 3673: "+" requests all operational attributes
	oidFeatureAbsoluteTF = "1.3.6.1.4.1.4203.1.5.3" // RFC 4526: (&) and (|) filters
)

// decodePagedResults parses the controlValue of a paged results control:
// realSearchControlValue ::= SEQUENCE { size INTEGER (0..maxInt), cookie
// OCTET STRING } (RFC 2696 §2). cookie aliases value.
func decodePagedResults(value []byte) (size int, cookie []byte, err error) {
	r := berReader{buf: value, end: len(value)}
	t, err := r.expect(tagSequence)
	if err != nil {
		return 0, nil, fmt.Errorf("decoding paged results control: %w", err)
	}
	if r.more() {
		return 0, nil, errors.New("decoding paged results control: data after the value")
	}
	s := r.in(t)
	d := msgDecoder{buf: value}
	if size, err = d.readInt(&s, tagInteger, 0, math.MaxInt32); err != nil {
		return 0, nil, fmt.Errorf("decoding paged results size: %w", err)
	}
	c, err := s.expect(tagOctetString)
	if err != nil {
		return 0, nil, fmt.Errorf("decoding paged results cookie: %w", err)
	}
	if s.more() {
		return 0, nil, errors.New("decoding paged results control: data after the cookie")
	}
	return size, d.bytes(c), nil
}

// encodePagedResults returns a realSearchControlValue for the response
// control: size is the server's estimate of the result set (0 if unknown)
// and an empty cookie ends the paging (RFC 2696 §3).
func encodePagedResults(size int, cookie []byte) []byte {
	b, s := openTLV(make([]byte, 0, 16+len(cookie)), tagSequence)
	b = appendInt(b, tagInteger, int64(size))
	b = appendTLV(b, tagOctetString, cookie)
	return closeTLV(b, s)
}

// ppWarning is the warning CHOICE of the password policy response control.
type ppWarning struct {
	Kind  int // ppWarnNone, ppWarnExpire or ppWarnGrace
	Value int // seconds before expiration, or grace binds remaining
}

// Kinds of ppWarning.
const (
	ppWarnNone   = 0
	ppWarnExpire = 1 // timeBeforeExpiration
	ppWarnGrace  = 2 // graceAuthNsRemaining
)

// Password policy error values (draft-behera §6.2 PasswordPolicyResponseValue
// error ENUMERATED); ppNoError omits the error.
const (
	ppNoError                     = -1
	ppPasswordExpired             = 0
	ppAccountLocked               = 1
	ppChangeAfterReset            = 2
	ppPasswordModNotAllowed       = 3
	ppMustSupplyOldPassword       = 4
	ppInsufficientPasswordQuality = 5
	ppPasswordTooShort            = 6
	ppPasswordTooYoung            = 7
	ppPasswordInHistory           = 8
	ppPasswordTooLong             = 9
)

// encodePPolicyResponse returns the controlValue of the password policy
// response control (draft-behera §6.2):
//
//	SEQUENCE {
//	   warning [0] CHOICE {
//	      timeBeforeExpiration [0] INTEGER (0 .. maxInt),
//	      graceAuthNsRemaining [1] INTEGER (0 .. maxInt) } OPTIONAL,
//	   error   [1] ENUMERATED OPTIONAL }
//
// with the tags libldap's ppolicy.c reads: warning 0xA0 (constructed, as it
// wraps a CHOICE), timeBeforeExpiration 0x80, graceAuthNsRemaining 0x81,
// error 0x81 (SECURITY.md §3.1). With neither it is 30 00, which OpenLDAP
// also sends.
func encodePPolicyResponse(warning ppWarning, errCode int) []byte {
	b, s := openTLV(make([]byte, 0, 16), tagSequence)
	if warning.Kind == ppWarnExpire || warning.Kind == ppWarnGrace {
		var w int
		b, w = openTLV(b, classContext|constructed|0)
		tag := byte(classContext | 0)
		if warning.Kind == ppWarnGrace {
			tag = classContext | 1
		}
		b = appendInt(b, tag, int64(warning.Value))
		b = closeTLV(b, w)
	}
	if errCode != ppNoError {
		b = appendInt(b, classContext|1, int64(errCode))
	}
	return closeTLV(b, s)
}

// decodePasswdModify parses the requestValue of the Password Modify
// extended operation (RFC 3062 §2):
//
//	PasswdModifyRequestValue ::= SEQUENCE {
//	   userIdentity [0] OCTET STRING OPTIONAL,
//	   oldPasswd    [1] OCTET STRING OPTIONAL,
//	   newPasswd    [2] OCTET STRING OPTIONAL }
//
// Fields must come in that order, at most once each; anything else, inside
// or after the SEQUENCE, is an error, which OpenLDAP answers with
// protocolError "data decoding error" (SECURITY.md §4.3). The caller handles
// an absent or empty requestValue before calling. Results alias value.
func decodePasswdModify(value []byte) (identity, oldPW, newPW []byte, hasIdentity, hasOld, hasNew bool, err error) {
	fail := func(err error) ([]byte, []byte, []byte, bool, bool, bool, error) {
		return nil, nil, nil, false, false, false, fmt.Errorf("decoding password modify request: %w", err)
	}
	r := berReader{buf: value, end: len(value)}
	t, err := r.expect(tagSequence)
	if err != nil {
		return fail(err)
	}
	if r.more() {
		return fail(errors.New("data after the value"))
	}
	s := r.in(t)
	d := msgDecoder{buf: value}
	next := byte(classContext | 0) // the smallest tag still allowed
	for s.more() {
		f, err := s.next()
		if err != nil {
			return fail(err)
		}
		if f.tag < next || f.tag > classContext|2 {
			return fail(fmt.Errorf("unexpected field %#02x", f.tag))
		}
		next = f.tag + 1
		switch f.tag {
		case classContext | 0:
			identity, hasIdentity = d.bytes(f), true
		case classContext | 1:
			oldPW, hasOld = d.bytes(f), true
		case classContext | 2:
			newPW, hasNew = d.bytes(f), true
		}
	}
	return identity, oldPW, newPW, hasIdentity, hasOld, hasNew, nil
}

// encodePasswdModifyResponse returns PasswdModifyResponseValue ::= SEQUENCE
// { genPasswd [0] OCTET STRING OPTIONAL } (RFC 3062 §2.2). Send it only
// when the server generated a password: otherwise, and on any failure, the
// responseValue is absent.
func encodePasswdModifyResponse(genPasswd []byte) []byte {
	b, s := openTLV(make([]byte, 0, 8+len(genPasswd)), tagSequence)
	b = appendTLV(b, classContext|0, genPasswd)
	return closeTLV(b, s)
}
