package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dird/dird/store"
)

// Imports (dird import) bring entries from an LDIF file, usually OpenLDAP's
// slapcat output, with their password hashes and ppolicy state. They come
// through the door like any other credential write: PrepareImport decides
// what each entry's credentials become, and Import writes the entries
// through the door's Credentials handle.

// importState is the ppolicy state an import keeps, each attribute with
// the check of its values. It is the state dird itself keeps (see
// readState); other ppolicy attributes (pwdPolicySubentry, pwdLastSuccess,
// pwdStartTime, pwdEndTime, ...) are refused, and the caller drops them
// beforehand with a note, since dird does not use them.
var importState = map[string]func(string) error{
	"pwdchangedtime":       checkTime,
	"pwdaccountlockedtime": checkTime,
	"pwdfailuretime":       checkTime,
	"pwdgraceusetime":      checkTime,
	"pwdreset":             checkBool,
	"pwdhistory":           checkHistoryValue,
}

func checkTime(v string) error {
	_, err := store.ParseGeneralizedTime(v)
	return err
}

func checkBool(v string) error {
	if u := strings.ToUpper(strings.TrimSpace(v)); u != "TRUE" && u != "FALSE" {
		return fmt.Errorf("%q is not TRUE or FALSE", v)
	}
	return nil
}

// checkHistoryValue checks a pwdHistory value (time#syntax#length#hash):
// a hash there is verified when the user changes its password (history,
// and the two previous passwords that do not count as failures), so it
// must be one dird can verify.
func checkHistoryValue(v string) error {
	h, ok := parseHistory(v)
	if !ok {
		return fmt.Errorf("%q is not time#syntax#length#value", clipValue(v))
	}
	if err := CheckHashed(h.hash); err != nil {
		return fmt.Errorf("the old password hash of the value from %s cannot be verified: %w", store.FormatTime(h.at), err)
	}
	return nil
}

func clipValue(v string) string {
	if len(v) > 40 {
		return v[:40] + "..."
	}
	return v
}

// looksTagged reports whether v begins with a {SCHEME} tag: such a value
// is a hash (or a pointer, such as {SASL}user@REALM) even when dird does
// not know the scheme, and must never be taken for a cleartext password.
func looksTagged(v string) bool {
	if !strings.HasPrefix(v, "{") {
		return false
	}
	end := strings.IndexByte(v, '}')
	if end < 2 {
		return false
	}
	for _, c := range v[1:end] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// PrepareImport returns e as an import stores it, and whether a cleartext
// password was hashed. A hashed userPassword ({SSHA}, {CRYPT}$6$, {ARGON2},
// ...) is kept as it is once CheckHashed finds that it can be verified; a
// value with a scheme tag dird does not know ({SASL}, {K5KEY}, ...) is
// refused rather than taken for a cleartext password; a cleartext value is
// checked against the quality rules and hashed with policy.hash. One
// value only, as draft-behera and the rest of the door require. The
// ppolicy state (pwdChangedTime, pwdAccountLockedTime, pwdFailureTime,
// pwdHistory, pwdReset, pwdGraceUseTime) is kept after a syntax check, so
// a locked account stays locked and a password keeps its age; any other
// credential attribute is refused. An entry with a password and no
// pwdChangedTime gets the current time, as Add gives it. Nothing is
// written.
func (d *Door) PrepareImport(ctx context.Context, e *store.Entry) (out *store.Entry, hashed bool, err error) {
	// Merge repeated attributes (and aliases) first, so that no value can
	// hide from the checks below in a second Attr of the same type.
	out = &store.Entry{DN: e.DN}
	for _, a := range e.Attrs {
		name := store.LookupAttr(a.Type).Name
		out.Set(name, append(slices.Clone(out.Get(name)), a.Values...)...)
	}
	for _, a := range out.Attrs {
		at := store.LookupAttr(a.Type)
		if at.Class == store.Public || strings.EqualFold(at.Name, "userPassword") {
			continue
		}
		check, ok := importState[strings.ToLower(at.Name)]
		if !ok {
			return nil, false, fmt.Errorf("%w: %s is not kept by an import", ErrNoUserModification, at.Name)
		}
		if at.SingleValue && len(a.Values) > 1 {
			return nil, false, fmt.Errorf("%w: %s: single value", store.ErrConstraintViolation, at.Name)
		}
		for _, v := range a.Values {
			if err := check(v); err != nil {
				return nil, false, fmt.Errorf("%w: %s: %w", store.ErrInvalidSyntax, at.Name, err)
			}
		}
		if strings.EqualFold(at.Name, "pwdReset") {
			out.Set(at.Name, strings.ToUpper(strings.TrimSpace(a.Values[0])))
		}
	}
	pws := out.Get("userPassword")
	switch {
	case len(pws) == 0:
		return out, false, nil
	case len(pws) > 1:
		return nil, false, fmt.Errorf("%w: userPassword has %d values; keep one", ErrOnePassword, len(pws))
	}
	pw := pws[0]
	switch {
	case IsHashed(pw) || looksTagged(pw):
		if err := checkAdminHash(pw); err != nil {
			return nil, false, err
		}
	default:
		if err := CheckQuality(d.rules, pw, contextWords(out)...); err != nil {
			return nil, false, err
		}
		h, err := d.hash(ctx, []byte(pw))
		if err != nil {
			return nil, false, fmt.Errorf("hashing the password: %w", err)
		}
		out.Set("userPassword", h)
		hashed = true
		nt, err := d.sealNTHash(out.DN, []byte(pw))
		if err != nil {
			return nil, false, err
		}
		setNTHash(out, nt)
	}
	if len(out.Get("pwdChangedTime")) == 0 {
		out.Set("pwdChangedTime", store.FormatTime(d.now().Truncate(time.Second)))
	}
	return out, hashed, nil
}

// Import writes entries that PrepareImport returned in one credential
// transaction: all of them, or none when one fails (the error names it).
// Each keeps its entryUUID, timestamps, creator and modifier (store's
// Txn.Load); entries that carry none are recorded as created by the
// administrator. A userPassword that is not a hash dird can verify is
// refused, so an import can never store a cleartext password, whoever
// calls it.
func (d *Door) Import(ctx context.Context, entries []*store.Entry) error {
	for _, e := range entries {
		for _, a := range e.Attrs {
			if strings.EqualFold(store.LookupAttr(a.Type).Name, ntHashAttr) {
				// Only PrepareImport's own, sealed with this door's key.
				if len(a.Values) != 1 || !d.opens(ntHashAttr, e.DN, a.Values[0]) {
					return fmt.Errorf("importing %s: %s is not a value this server sealed (PrepareImport computes it)", e.DN, ntHashAttr)
				}
				continue
			}
			if !strings.EqualFold(store.LookupAttr(a.Type).Name, "userPassword") {
				continue
			}
			for _, pw := range a.Values {
				if err := CheckHashed(pw); err != nil {
					return fmt.Errorf("importing %s: userPassword is not a verifiable hash (PrepareImport hashes cleartext): %w", e.DN, err)
				}
			}
		}
	}
	actor := d.admin.String()
	return d.creds.Update(ctx, func(tx *store.Txn) error {
		for _, e := range entries {
			if err := tx.Load(e, actor); err != nil {
				return fmt.Errorf("importing %s: %w", e.DN, err)
			}
		}
		return nil
	})
}
