package policy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dird/dird/store"
)

// Change is one password change: a user changing its own (Old required)
// or the administrator setting anyone's.
type Change struct {
	// Actor is the bound identity asking for the change.
	Actor store.DN
	// Target is whose password changes; nil means the actor's own.
	Target store.DN
	Old    []byte
	HasOld bool
	// New is the new password; HasNew false asks the server to generate
	// one, which ChangePassword returns.
	New    []byte
	HasNew bool
	Front  string
	// Client is where the request came from, for the audit trail only.
	Client string
}

// changePassword applies a change after every check: access, the old
// password, quality, history. It returns the generated password when the
// change asked for one.
func (d *Door) changePassword(ctx context.Context, c Change) (generated []byte, err error) {
	target := c.Target
	if target == nil {
		target = c.Actor
	}
	byAdmin := d.IsAdmin(c.Actor)
	if d.IsAdmin(target) {
		return nil, fmt.Errorf("%w: the administrator's password is set in the configuration", ErrInsufficientAccess)
	}
	if !byAdmin && !target.Equal(c.Actor) {
		return nil, fmt.Errorf("%w: only the administrator may change another user's password", ErrInsufficientAccess)
	}
	// A user choosing its own new password must prove the old one. Asking
	// the server to generate one (ldappasswd with no value at all, RFC 3062
	// "generate mine") needs only the bound session, as in OpenLDAP.
	if !byAdmin && !c.HasOld && c.HasNew {
		return nil, ErrMustSupplyOld
	}
	e, err := d.dir.Get(ctx, target)
	if err != nil {
		return nil, err
	}
	now := d.now()
	s := readState(e)
	// The hourly throttle holds here as in Authenticate: otherwise the
	// old password could be guessed past it.
	_, lastHour := d.recentFailures(s, now)
	throttled := lastHour >= maxRecordedFailures
	locked := d.lockActive(s, now) || throttled
	if c.HasOld && throttled && !byAdmin {
		// Past the hourly bound the old password is not checked at all,
		// so the answer cannot confirm a guess (see Authenticate).
		return nil, errors.Join(ErrOldPasswordWrong, d.equalWork(ctx, c.Old))
	}
	if c.HasOld {
		stored := e.First("userPassword")
		if stored == "" {
			stored = DummyHash(d.params)
		}
		ok, err := d.verify(ctx, stored, c.Old)
		if err != nil {
			return nil, err
		}
		if !ok || e.First("userPassword") == "" {
			if !byAdmin && !d.isPreviousPassword(ctx, s, c.Old) {
				if err := d.recordFailure(ctx, target); err != nil {
					return nil, err
				}
			}
			return nil, ErrOldPasswordWrong
		}
	}
	if !byAdmin {
		if exp := d.expiresAt(s); !exp.IsZero() && !now.Before(exp) && d.cfg.LockOnExpiry {
			return nil, ErrAccountExpired
		}
		if locked {
			return nil, ErrAccountLocked
		}
	}
	newPW := c.New
	if !c.HasNew {
		g, err := GeneratePassword(d.rules)
		if err != nil {
			return nil, fmt.Errorf("password generation failed: %w", err)
		}
		newPW, generated = []byte(g), []byte(g)
	}
	var hashed string
	if byAdmin && c.HasNew && IsHashed(string(newPW)) {
		// Migration: an administrator's already hashed value is kept.
		hashed = string(newPW)
		if err := checkAdminHash(hashed); err != nil {
			return nil, err
		}
	} else {
		if err := CheckQuality(d.rules, string(newPW), contextWords(e)...); err != nil {
			return nil, err
		}
		if !byAdmin {
			if err := d.checkHistory(ctx, e, s, newPW); err != nil {
				return nil, err
			}
		}
		if hashed, err = d.hash(ctx, newPW); err != nil {
			return nil, fmt.Errorf("hashing the new password: %w", err)
		}
	}
	// An administrator setting someone's password means the user must
	// change it (pwdReset), unless it is a migrated hash.
	mustChange := byAdmin && !(c.HasNew && IsHashed(string(newPW)))
	err = d.creds.Update(ctx, func(tx *store.Txn) error {
		old, err := tx.Get(target)
		if err != nil {
			return err
		}
		x := old.Clone()
		d.applyNewPassword(x, hashed, mustChange, tx.Now())
		return tx.Replace(old, x, c.Actor.String())
	})
	if err != nil {
		return nil, fmt.Errorf("changing the password of %s: %w", target, err)
	}
	return generated, nil
}

// applyNewPassword sets the hash and the state a change implies
// (draft-behera §8.2.7): history, pwdChangedTime, pwdReset, no failures,
// no lock, no grace uses, and shadowLastChange for posix hosts.
func (d *Door) applyNewPassword(x *store.Entry, hashed string, mustChange bool, now time.Time) {
	if prev := x.First("userPassword"); prev != "" {
		hist := append([]string{formatHistory(now, prev)}, x.Get("pwdHistory")...)
		keep := max(d.cfg.History, previousPasswordsExempt)
		s := readState(&store.Entry{Attrs: []store.Attr{{Type: "pwdHistory", Values: hist}}})
		var out []string
		for i := 0; i < len(s.history) && i < keep; i++ {
			out = append(out, formatHistory(s.history[i].at, s.history[i].hash))
		}
		x.Set("pwdHistory", out...)
	}
	x.Set("userPassword", hashed)
	x.Set("pwdChangedTime", store.FormatTime(now.Truncate(time.Second)))
	if mustChange {
		x.Set("pwdReset", "TRUE")
	} else {
		x.Set("pwdReset")
	}
	x.Set("pwdFailureTime")
	x.Set("pwdAccountLockedTime")
	x.Set("pwdGraceUseTime")
	if x.HasObjectClass("shadowAccount") || x.First("shadowLastChange") != "" {
		x.Set("shadowLastChange", strconv.FormatInt(now.Unix()/86400, 10))
	}
}

// checkHistory refuses the current password and the last policy.history
// ones.
func (d *Door) checkHistory(ctx context.Context, e *store.Entry, s state, pw []byte) error {
	if d.cfg.History <= 0 {
		return nil
	}
	candidates := []string{e.First("userPassword")}
	for i := 0; i < len(s.history) && i < d.cfg.History-1; i++ {
		candidates = append(candidates, s.history[i].hash)
	}
	for _, h := range candidates {
		if h == "" {
			continue
		}
		if ok, err := d.verify(ctx, h, pw); err != nil {
			return err
		} else if ok {
			return &QualityError{Rule: "history", PPolicyError: 8,
				Message: fmt.Sprintf("New password is in list of old passwords: it must differ from the last %d", d.cfg.History)}
		}
	}
	return nil
}

// checkAdminHash refuses an administrator's already hashed value that
// cannot be verified (unknown variant such as DES crypt, malformed, or
// beyond the cost limits): kept as is, it would make every bind of the
// account fail with an internal error instead of a clean refusal.
func checkAdminHash(v string) error {
	if err := CheckHashed(v); err != nil {
		return fmt.Errorf("%w: userPassword: %w", store.ErrInvalidSyntax, err)
	}
	return nil
}

// contextWords are the user's own names, which a password may not be.
func contextWords(e *store.Entry) []string {
	var words []string
	for _, a := range []string{"uid", "cn", "sn", "givenName"} {
		words = append(words, e.Get(a)...)
	}
	for _, m := range e.Get("mail") {
		if i := strings.IndexByte(m, '@'); i > 0 {
			words = append(words, m[:i])
		}
	}
	return words
}

// Add creates an entry for the administrator. A cleartext userPassword is
// checked and hashed; an already hashed one is kept (migration).
func (d *Door) Add(ctx context.Context, actor store.DN, e *store.Entry) error {
	if !d.IsAdmin(actor) {
		return fmt.Errorf("%w: only the administrator may add entries", ErrInsufficientAccess)
	}
	e = e.Clone()
	now := d.now()
	for _, a := range e.Attrs {
		at := store.LookupAttr(a.Type)
		if at.Class == store.Public {
			continue
		}
		switch strings.ToLower(at.Name) {
		case "userpassword", "pwdchangedtime", "pwdaccountlockedtime", "pwdreset":
		default:
			return fmt.Errorf("%w: %s", ErrNoUserModification, at.Name)
		}
	}
	if pws := e.Get("userPassword"); len(pws) > 1 {
		return ErrOnePassword
	} else if len(pws) == 1 {
		pw := pws[0]
		if IsHashed(pw) {
			if err := checkAdminHash(pw); err != nil {
				return err
			}
		} else {
			if err := CheckQuality(d.rules, pw, contextWords(e)...); err != nil {
				return err
			}
			h, err := d.hash(ctx, []byte(pw))
			if err != nil {
				return fmt.Errorf("hashing the password: %w", err)
			}
			e.Set("userPassword", h)
		}
		if e.First("pwdChangedTime") == "" {
			e.Set("pwdChangedTime", store.FormatTime(now.Truncate(time.Second)))
		}
		if (e.HasObjectClass("shadowAccount") || e.First("shadowLastChange") != "") && e.First("shadowLastChange") == "" {
			e.Set("shadowLastChange", strconv.FormatInt(now.Unix()/86400, 10))
		}
	}
	return d.creds.Update(ctx, func(tx *store.Txn) error { return tx.Add(e, actor.String()) })
}

// modify applies an LDAP modify. The administrator may change anything,
// including userPassword (cleartext is checked and hashed; hashes are
// kept), pwdChangedTime, pwdAccountLockedTime and pwdReset, and may clear
// pwdFailureTime. A user may only change its own password, OpenLDAP-style:
// delete the old value and add the new one.
func (d *Door) modify(ctx context.Context, actor, dn store.DN, mods []store.Mod) error {
	if !d.IsAdmin(actor) {
		return d.selfModify(ctx, actor, dn, mods)
	}
	var plain []store.Mod
	var pwMods []store.Mod
	var stateMods []store.Mod
	for _, m := range mods {
		at := store.LookupAttr(m.Type)
		switch strings.ToLower(at.Name) {
		case "userpassword":
			pwMods = append(pwMods, m)
			continue
		case "pwdchangedtime", "pwdaccountlockedtime", "pwdreset":
			stateMods = append(stateMods, m)
			continue
		case "pwdfailuretime", "pwdgraceusetime":
			if m.Op == store.ModDelete {
				stateMods = append(stateMods, m)
				continue
			}
		}
		if at.Class != store.Public {
			return fmt.Errorf("%w: %s", ErrNoUserModification, at.Name)
		}
		plain = append(plain, m)
	}
	// Work out the password the modify leaves, hashing it before the
	// transaction (hashing is slow and a transaction may be retried).
	var newPW *string
	removePW := false
	// addOnTop: an add with no delete before it, which would leave two
	// values if the entry has one (draft-behera §8: one value only).
	addOnTop, deleted := false, false
	for _, m := range pwMods {
		addOnTop = addOnTop || (m.Op == store.ModAdd && !deleted)
		deleted = deleted || m.Op == store.ModDelete || m.Op == store.ModReplace
		switch m.Op {
		case store.ModReplace, store.ModAdd:
			if len(m.Values) > 1 {
				return ErrOnePassword
			}
			if len(m.Values) == 0 {
				removePW = true
				newPW = nil
				continue
			}
			v := m.Values[0]
			newPW, removePW = &v, false
		case store.ModDelete:
			if len(m.Values) == 0 {
				removePW, newPW = true, nil
			}
		default:
			return fmt.Errorf("%w: userPassword", ErrNoUserModification)
		}
	}
	hashed, mustChange := "", false
	if newPW != nil {
		if IsHashed(*newPW) {
			hashed = *newPW
			if err := checkAdminHash(hashed); err != nil {
				return err
			}
		} else {
			cur, err := d.dir.Get(ctx, dn)
			if err != nil {
				return err
			}
			if err := CheckQuality(d.rules, *newPW, contextWords(cur)...); err != nil {
				return err
			}
			if hashed, err = d.hash(ctx, []byte(*newPW)); err != nil {
				return fmt.Errorf("hashing the password: %w", err)
			}
			mustChange = true
		}
	}
	return d.creds.Update(ctx, func(tx *store.Txn) error {
		if len(plain) > 0 {
			if _, err := tx.Modify(dn, plain, actor.String()); err != nil {
				return err
			}
		}
		old, err := tx.Get(dn)
		if err != nil {
			return err
		}
		if addOnTop && old.First("userPassword") != "" {
			return ErrOnePassword
		}
		x := old.Clone()
		wasLocked := x.First("pwdAccountLockedTime") != ""
		// The administrator's state writes apply to the entry as stored
		// (a modify's changes apply in order to what is there), so that
		// "replace userPassword + delete pwdAccountLockedTime" works in one
		// operation; and they win over what a new password implies, so an
		// explicit pwdChangedTime keeps a migrated password's age.
		if err := applyStateMods(x, stateMods); err != nil {
			return err
		}
		if newPW != nil {
			explicit := x.Clone()
			d.applyNewPassword(x, hashed, mustChange, tx.Now())
			for _, m := range stateMods {
				name := store.LookupAttr(m.Type).Name
				x.Set(name, explicit.Get(name)...)
			}
		} else if removePW {
			x.Set("userPassword")
		}
		if newPW == nil && wasLocked && x.First("pwdAccountLockedTime") == "" {
			// Unlocking restores the account: no stale failures to re-lock
			// it at once, and an expired password starts a new life that
			// must be changed at next login.
			x.Set("pwdFailureTime")
			s := readState(x)
			if exp := d.expiresAt(s); !exp.IsZero() && !tx.Now().Before(exp) {
				x.Set("pwdChangedTime", store.FormatTime(tx.Now().Truncate(time.Second)))
				x.Set("pwdReset", "TRUE")
			}
		}
		if len(pwMods) == 0 && len(stateMods) == 0 {
			return nil
		}
		return tx.Replace(old, x, actor.String())
	})
}

func applyStateMods(x *store.Entry, mods []store.Mod) error {
	for _, m := range mods {
		at := store.LookupAttr(m.Type)
		for _, v := range m.Values {
			if strings.EqualFold(at.Name, "pwdReset") {
				if u := strings.ToUpper(v); u != "TRUE" && u != "FALSE" {
					return fmt.Errorf("%w: pwdReset: %q is not TRUE or FALSE", store.ErrInvalidSyntax, v)
				}
				continue
			}
			if _, err := store.ParseGeneralizedTime(v); err != nil {
				return fmt.Errorf("%w: %s: %q is not a generalized time", store.ErrInvalidSyntax, at.Name, v)
			}
		}
		switch m.Op {
		case store.ModReplace, store.ModAdd:
			if len(m.Values) > 1 {
				return fmt.Errorf("%w: %s: single value", store.ErrConstraintViolation, at.Name)
			}
			if m.Op == store.ModAdd && x.First(at.Name) != "" {
				return fmt.Errorf("%w: modify/add: %s: value #0 already exists", store.ErrAttributeOrValueExist, at.Name)
			}
			vals := m.Values
			if strings.EqualFold(at.Name, "pwdReset") && len(vals) == 1 {
				vals = []string{strings.ToUpper(vals[0])}
			}
			x.Set(at.Name, vals...)
		case store.ModDelete:
			if x.First(at.Name) == "" {
				return fmt.Errorf("%w: modify/delete: %s: no such attribute", store.ErrNoSuchAttribute, at.Name)
			}
			x.Set(at.Name)
		default:
			return fmt.Errorf("%w: %s", ErrNoUserModification, at.Name)
		}
	}
	return nil
}

// selfModify accepts exactly the OpenLDAP self-change form: delete the
// old userPassword value, add the new one.
func (d *Door) selfModify(ctx context.Context, actor, dn store.DN, mods []store.Mod) error {
	if !actor.Equal(dn) {
		return fmt.Errorf("%w: only the administrator may modify entries", ErrInsufficientAccess)
	}
	var oldPW, newPW []byte
	var hasOld, hasNew bool
	for _, m := range mods {
		if !strings.EqualFold(store.LookupAttr(m.Type).Name, "userPassword") {
			return fmt.Errorf("%w: you may change only your own password", ErrInsufficientAccess)
		}
		switch {
		case m.Op == store.ModDelete && len(m.Values) == 1 && !hasOld:
			oldPW, hasOld = []byte(m.Values[0]), true
		case m.Op == store.ModAdd && len(m.Values) == 1 && !hasNew:
			newPW, hasNew = []byte(m.Values[0]), true
		case m.Op == store.ModReplace:
			return ErrMustSupplyOld
		default:
			return ErrOnePassword
		}
	}
	if !hasNew {
		return fmt.Errorf("%w: no new password given", ErrOnePassword)
	}
	if !hasOld {
		return ErrMustSupplyOld
	}
	_, err := d.ChangePassword(ctx, Change{Actor: actor, Target: dn, Old: oldPW, HasOld: true, New: newPW, HasNew: true, Front: FrontLDAP})
	return err
}

// ErrIsQuality reports whether err is a password-quality refusal and
// returns it.
func ErrIsQuality(err error) (*QualityError, bool) {
	var q *QualityError
	ok := errors.As(err, &q)
	return q, ok
}
