package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dird/dird/store"
)

// Errors of the reset path.
var (
	// ErrNoSuchAccount: FindAccount found nobody. Fronts must not tell
	// the visitor (no user enumeration).
	ErrNoSuchAccount = errors.New("policy: no such account")
	// ErrResetTokenInvalid: the link is unknown, used, expired, replaced
	// by a newer one, or voided by a password change since it was sent.
	ErrResetTokenInvalid = errors.New("policy: this reset link is invalid or has expired")
	// ErrResetNoPassword: the final step came without a new password
	// given earlier.
	ErrResetNoPassword = errors.New("policy: a new password is required")
)

// Account is what the reset and notice paths need of a person.
type Account struct {
	DN   store.DN
	UID  string
	Name string // cn, or the uid when there is none
	Mail string
}

func accountOf(e *store.Entry) *Account {
	a := &Account{DN: e.DN, UID: e.First("uid"), Name: e.First("cn"), Mail: e.First("mail")}
	if a.Name == "" {
		a.Name = a.UID
	}
	return a
}

// FindAccount looks a person up by mail address or uid (an address first
// when who has an @). It returns ErrNoSuchAccount when nobody matches or
// the entry has no address to send a link to.
func (d *Door) FindAccount(ctx context.Context, who string) (*Account, error) {
	who = strings.TrimSpace(who)
	if who == "" {
		return nil, ErrNoSuchAccount
	}
	attrs := []string{"uid", "mail"}
	if strings.Contains(who, "@") {
		attrs = []string{"mail", "uid"}
	}
	for _, a := range attrs {
		e, err := d.dir.FindUnique(ctx, a, who)
		if errors.Is(err, store.ErrNoSuchObject) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.IsAdmin(e.DN) || e.First("mail") == "" {
			return nil, ErrNoSuchAccount
		}
		return accountOf(e), nil
	}
	return nil, ErrNoSuchAccount
}

// resetRecord is one outstanding reset link.
type resetRecord struct {
	DN      string    `json:"dn"`
	Stamp   string    `json:"stamp"`
	Expires time.Time `json:"expires"`
	// Staged is the new password's hash, kept between the password step
	// and the authentication-code step so the password is not sent twice.
	Staged string `json:"staged,omitempty"`
	// StagedNT is the new password's sealed NT hash (policy.nt_hash).
	StagedNT string `json:"staged_nt,omitempty"`
}

// IssueResetToken makes a reset token for dn that works for ttl, and
// voids the account's earlier ones. The token is 256 random bits; only its
// hash is stored. It also dies when the password changes by any path.
func (d *Door) IssueResetToken(ctx context.Context, dn store.DN, ttl time.Duration) (string, error) {
	token, id, err := newSecret()
	if err != nil {
		return "", err
	}
	expires := d.now().UTC().Add(ttl)
	err = d.creds.Update(ctx, func(tx *store.Txn) error {
		e, err := tx.Get(dn)
		if err != nil {
			return err
		}
		if prev, err := tx.GetRecord(recResetUser, dn.Norm()); err == nil {
			if err := tx.DeleteRecord(recReset, string(prev)); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutRecord(recResetUser, dn.Norm(), []byte(id)); err != nil {
			return err
		}
		return txPutRecord(tx, recReset, id, resetRecord{DN: dn.String(), Stamp: credentialStamp(e), Expires: expires})
	})
	if err != nil {
		return "", fmt.Errorf("issuing a reset token for %s: %w", dn, err)
	}
	return token, nil
}

// ResetTicket is what a valid reset token allows.
type ResetTicket struct {
	Account
	// NeedsTOTP: the account has a second factor; the code is asked
	// before the password is replaced.
	NeedsTOTP bool
	// Staged: the new password was given; only the code is missing.
	Staged bool
	// Blocked is ErrAccountExpired (expired under lock_on_expiry) or
	// ErrAccountLocked (an administrator's lock) when the account may not
	// reset itself; nil otherwise. A failure lockout does not block: a
	// reset clears it.
	Blocked error
}

// CheckResetToken reports what token allows without using it up (mail
// scanners open links). It returns ErrResetTokenInvalid for a token that
// does not work.
func (d *Door) CheckResetToken(ctx context.Context, token string) (*ResetTicket, error) {
	t, _, err := d.checkReset(ctx, token)
	return t, err
}

func (d *Door) checkReset(ctx context.Context, token string) (*ResetTicket, *resetRecord, error) {
	if token == "" {
		return nil, nil, ErrResetTokenInvalid
	}
	var rec resetRecord
	found, err := d.getRecord(ctx, recReset, secretID(token), &rec)
	if err != nil {
		return nil, nil, err
	}
	now := d.now()
	if !found || !now.Before(rec.Expires) {
		return nil, nil, ErrResetTokenInvalid
	}
	dn, err := store.ParseDN(rec.DN)
	if err != nil {
		return nil, nil, ErrResetTokenInvalid
	}
	e, err := d.dir.Get(ctx, dn)
	if errors.Is(err, store.ErrNoSuchObject) {
		return nil, nil, ErrResetTokenInvalid
	}
	if err != nil {
		return nil, nil, err
	}
	if credentialStamp(e) != rec.Stamp {
		return nil, nil, ErrResetTokenInvalid
	}
	has, err := d.HasTOTP(ctx, dn)
	if err != nil {
		return nil, nil, err
	}
	t := &ResetTicket{Account: *accountOf(e), NeedsTOTP: has, Staged: rec.Staged != ""}
	s := readState(e)
	if exp := d.expiresAt(s); !exp.IsZero() && !now.Before(exp) && d.cfg.LockOnExpiry {
		t.Blocked = ErrAccountExpired
	} else if s.locked && s.permanent {
		t.Blocked = ErrAccountLocked
	}
	return t, &rec, nil
}

// Reset is the final step of an emailed link.
type Reset struct {
	Token string
	// New is the new password; nil on the code step when it was given
	// before.
	New []byte
	// Code is the TOTP or recovery code when the account has a second
	// factor.
	Code string
	// Front and Client are where the request came from, for the audit
	// trail only.
	Front, Client string
}

// ResetPassword sets a new password with a reset token. When the account
// needs a code and r.Code is empty or wrong, the checked and hashed new
// password is kept with the token and ErrTOTPRequired, ErrTOTPWrong or
// ErrTOTPThrottled returned; the token stays usable until it expires. On
// success the token is used up, failures and a failure lockout are
// cleared, every session of the account ends (the password stamp moved),
// and one EventPasswordReset is reported.
func (d *Door) ResetPassword(ctx context.Context, r Reset) (*Account, error) {
	token, newPW, code := r.Token, r.New, r.Code
	t, rec, err := d.checkReset(ctx, token)
	if err != nil {
		return nil, err
	}
	if t.Blocked != nil {
		return nil, t.Blocked
	}
	id := secretID(token)
	hashed, nt := rec.Staged, rec.StagedNT
	if newPW != nil {
		e, err := d.dir.Get(ctx, t.DN)
		if err != nil {
			return nil, err
		}
		if err := CheckQuality(d.rules, string(newPW), contextWords(e)...); err != nil {
			return nil, err
		}
		if err := d.checkHistory(ctx, e, readState(e), newPW); err != nil {
			return nil, err
		}
		if hashed, err = d.hash(ctx, newPW); err != nil {
			return nil, fmt.Errorf("hashing the new password: %w", err)
		}
		if nt, err = d.sealNTHash(t.DN, newPW); err != nil {
			return nil, err
		}
	}
	if hashed == "" {
		return nil, ErrResetNoPassword
	}
	if t.NeedsTOTP {
		if verr := d.VerifyTOTP(ctx, t.DN, code); verr != nil {
			if newPW != nil {
				err := d.creds.Update(ctx, func(tx *store.Txn) error {
					var cur resetRecord
					if ok, err := txGetRecord(tx, recReset, id, &cur); err != nil || !ok {
						return err
					}
					cur.Staged, cur.StagedNT = hashed, nt
					return txPutRecord(tx, recReset, id, cur)
				})
				if err != nil {
					return nil, fmt.Errorf("keeping the new password for the code step: %w", err)
				}
			}
			return nil, verr
		}
	}
	err = d.creds.Update(ctx, func(tx *store.Txn) error {
		var cur resetRecord
		ok, err := txGetRecord(tx, recReset, id, &cur)
		if err != nil {
			return err
		}
		old, err := tx.Get(t.DN)
		if errors.Is(err, store.ErrNoSuchObject) || !ok || credentialStamp(old) != cur.Stamp {
			return ErrResetTokenInvalid // used or voided by a concurrent request
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteRecord(recReset, id); err != nil {
			return err
		}
		if err := tx.DeleteRecord(recResetUser, t.DN.Norm()); err != nil {
			return err
		}
		x := old.Clone()
		d.applyNewPassword(x, hashed, nt, false, tx.Now())
		return tx.Replace(old, x, t.DN.String())
	})
	if err != nil {
		if errors.Is(err, ErrResetTokenInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("resetting the password of %s: %w", t.DN, err)
	}
	d.emit(Event{Kind: EventPasswordReset, Front: r.Front, Client: r.Client, User: t.DN.String()})
	a := t.Account
	return &a, nil
}
