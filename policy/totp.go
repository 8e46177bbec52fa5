package policy

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6238's default, what every authenticator app implements
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/dird/dird/store"
)

// Errors of the second factor.
var (
	// ErrTOTPRequired: the account has TOTP and no code was given.
	ErrTOTPRequired = errors.New("policy: authentication code required")
	// ErrTOTPWrong: the code (or recovery code) is wrong, already used,
	// or outside the time window.
	ErrTOTPWrong = errors.New("policy: authentication code is wrong")
	// ErrTOTPThrottled: too many wrong codes lately; wait a minute.
	ErrTOTPThrottled = errors.New("policy: too many wrong authentication codes, try again in a minute")
	// ErrTOTPNotEnrolling: ConfirmTOTP without BeginTOTP.
	ErrTOTPNotEnrolling = errors.New("policy: no authenticator enrolment in progress")
	// ErrTOTPUnreadable: the account's TOTP secret does not open (the
	// seal key changed, or the entry was renamed since enrolment). The
	// factor cannot be checked, so it is not passed; an administrator
	// must help.
	ErrTOTPUnreadable = errors.New("policy: the authenticator's secret cannot be read")
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app
// reads from the otpauth URI or assumes).
const (
	totpPeriod  = 30 * time.Second
	totpDigits  = 6
	totpSkew    = 1 // steps either side, for clocks a little off
	secretBytes = 20
	// totpMaxFailures wrong codes within totpFailWindow refuse further
	// codes until the window has passed (Kanidm: 5 wrong, 60 s).
	totpMaxFailures = 5
	totpFailWindow  = time.Minute
	recoveryCodes   = 10
)

// totpRecord is one account's second factor. Secret and Pending are
// sealed (seal.go: AES-256-GCM under the seal key, bound to the entry's
// DN and to totpSealAttr), so a copy of the store without the key does
// not give the secrets away.
type totpRecord struct {
	Secret   string      `json:"secret,omitempty"`
	Pending  string      `json:"pending,omitempty"` // awaiting its confirmation code
	LastStep int64       `json:"last_step,omitempty"`
	Failures []time.Time `json:"failures,omitempty"`
	Recovery []string    `json:"recovery,omitempty"` // argon2id hashes of unused recovery codes
}

// totpSealAttr names TOTP secrets in the sealing's additional data, so a
// sealed TOTP secret cannot be passed off as another sealed value.
const totpSealAttr = "dirdTOTPSecret"

func (d *Door) sealTOTP(dn store.DN, secret []byte) (string, error) {
	if d.seal == nil {
		return "", ErrNoSealKey
	}
	return d.seal.seal(totpSealAttr, dn, secret)
}

func (d *Door) openTOTP(dn store.DN, sealed string) ([]byte, error) {
	if d.seal == nil {
		return nil, ErrNoSealKey
	}
	b, err := d.seal.open(totpSealAttr, dn, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrTOTPUnreadable, dn)
	}
	return b, nil
}

// TOTPEnrollment is what the person scans or types into an authenticator
// app.
type TOTPEnrollment struct {
	// Secret is the base32 shared secret (for typing in).
	Secret string
	// URI is the otpauth:// URI a QR code carries.
	URI string
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpCode computes the RFC 4226 HOTP value for one time step (RFC 6238
// §4: the counter is the number of periods since the Unix epoch).
func totpCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

func totpStep(t time.Time) int64 { return t.Unix() / int64(totpPeriod/time.Second) }

// matchTOTP returns the step whose code equals code within the skew, or
// -1. Every candidate is compared, in constant time, so the time taken
// does not say which one matched.
func matchTOTP(secret []byte, code string, now time.Time) int64 {
	found := int64(-1)
	cur := totpStep(now)
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		if subtle.ConstantTimeCompare([]byte(totpCode(secret, s)), []byte(code)) == 1 {
			found = s
		}
	}
	return found
}

func recordKeyDN(dn store.DN) string { return dn.Norm() }

func (d *Door) readTOTP(ctx context.Context, dn store.DN) (totpRecord, error) {
	var rec totpRecord
	_, err := d.getRecord(ctx, recTOTP, recordKeyDN(dn), &rec)
	return rec, err
}

// HasTOTP reports whether the account has a confirmed second factor. The
// portal asks for a code at login and reset when it does; radiusd can ask
// with an Access-Challenge.
func (d *Door) HasTOTP(ctx context.Context, dn store.DN) (bool, error) {
	rec, err := d.readTOTP(ctx, dn)
	return rec.Secret != "", err
}

// BeginTOTP starts (or restarts) enrolment: a new secret is kept pending
// until ConfirmTOTP proves the app has it. An already confirmed secret
// stays in force until then.
func (d *Door) BeginTOTP(ctx context.Context, dn store.DN, issuer, account string) (TOTPEnrollment, error) {
	secret := make([]byte, secretBytes)
	if _, err := rand.Read(secret); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("policy: reading random bytes: %w", err)
	}
	sealed, err := d.sealTOTP(dn, secret)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	err = d.creds.Update(ctx, func(tx *store.Txn) error {
		if _, err := tx.Get(dn); err != nil {
			return err
		}
		var rec totpRecord
		if _, err := txGetRecord(tx, recTOTP, recordKeyDN(dn), &rec); err != nil {
			return err
		}
		rec.Pending = sealed
		return txPutRecord(tx, recTOTP, recordKeyDN(dn), rec)
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("starting TOTP enrolment for %s: %w", dn, err)
	}
	return enrollment(secret, issuer, account), nil
}

// PendingTOTP returns the enrolment in progress for dn (to show the QR
// code again after a wrong confirmation code), or false when there is
// none.
func (d *Door) PendingTOTP(ctx context.Context, dn store.DN, issuer, account string) (TOTPEnrollment, bool, error) {
	rec, err := d.readTOTP(ctx, dn)
	if err != nil || rec.Pending == "" {
		return TOTPEnrollment{}, false, err
	}
	secret, err := d.openTOTP(dn, rec.Pending)
	if err != nil {
		return TOTPEnrollment{}, false, err
	}
	return enrollment(secret, issuer, account), true, nil
}

func enrollment(secret []byte, issuer, account string) TOTPEnrollment {
	enc := b32.EncodeToString(secret)
	label := url.PathEscape(issuer + ":" + account)
	q := url.Values{}
	q.Set("secret", enc)
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(totpDigits))
	q.Set("period", fmt.Sprint(int(totpPeriod/time.Second)))
	return TOTPEnrollment{Secret: enc, URI: "otpauth://totp/" + label + "?" + q.Encode()}
}

// ConfirmTOTP checks a code from the pending secret and, when right,
// makes it the account's second factor and returns new recovery codes
// (shown once; only their hashes are kept).
func (d *Door) ConfirmTOTP(ctx context.Context, dn store.DN, code string) ([]string, error) {
	rec, err := d.readTOTP(ctx, dn)
	if err != nil {
		return nil, err
	}
	if rec.Pending == "" {
		return nil, ErrTOTPNotEnrolling
	}
	secret, err := d.openTOTP(dn, rec.Pending)
	if err != nil {
		return nil, err
	}
	now := d.now()
	if d.totpThrottled(rec, now) {
		return nil, ErrTOTPThrottled
	}
	step := matchTOTP(secret, normalizeCode(code), now)
	if step < 0 {
		return nil, errors.Join(ErrTOTPWrong, d.totpFailure(ctx, dn))
	}
	codes := make([]string, recoveryCodes)
	hashes := make([]string, recoveryCodes)
	for i := range codes {
		c, err := newRecoveryCode()
		if err != nil {
			return nil, err
		}
		codes[i] = c
		if hashes[i], err = d.hash(ctx, []byte(normalizeCode(c))); err != nil {
			return nil, fmt.Errorf("hashing a recovery code: %w", err)
		}
	}
	pending := rec.Pending
	err = d.creds.Update(ctx, func(tx *store.Txn) error {
		var cur totpRecord
		if _, err := txGetRecord(tx, recTOTP, recordKeyDN(dn), &cur); err != nil {
			return err
		}
		if cur.Pending != pending {
			return ErrTOTPNotEnrolling // restarted meanwhile
		}
		return txPutRecord(tx, recTOTP, recordKeyDN(dn), totpRecord{Secret: pending, LastStep: step, Recovery: hashes})
	})
	if err != nil {
		return nil, fmt.Errorf("confirming TOTP for %s: %w", dn, err)
	}
	return codes, nil
}

// VerifyTOTP checks a second-factor code for dn: a current TOTP code not
// used before (a code is good once: replay is refused), or one of the
// unused recovery codes, which it uses up. It returns nil when right,
// ErrTOTPWrong, ErrTOTPThrottled after too many wrong codes, or
// ErrTOTPRequired when code is empty.
func (d *Door) VerifyTOTP(ctx context.Context, dn store.DN, code string) error {
	rec, err := d.readTOTP(ctx, dn)
	if err != nil {
		return err
	}
	if rec.Secret == "" {
		return ErrTOTPWrong
	}
	secret, err := d.openTOTP(dn, rec.Secret)
	if err != nil {
		return err
	}
	code = normalizeCode(code)
	if code == "" {
		return ErrTOTPRequired
	}
	now := d.now()
	if d.totpThrottled(rec, now) {
		return ErrTOTPThrottled
	}
	key := recordKeyDN(dn)
	if len(code) == totpDigits {
		step := matchTOTP(secret, code, now)
		if step >= 0 {
			used := false
			err := d.creds.Update(ctx, func(tx *store.Txn) error {
				var cur totpRecord
				if _, err := txGetRecord(tx, recTOTP, key, &cur); err != nil {
					return err
				}
				if step <= cur.LastStep {
					used = true
					return nil
				}
				cur.LastStep, cur.Failures = step, nil
				return txPutRecord(tx, recTOTP, key, cur)
			})
			if err != nil {
				return fmt.Errorf("recording a TOTP use for %s: %w", dn, err)
			}
			if !used {
				return nil
			}
		}
		return errors.Join(ErrTOTPWrong, d.totpFailure(ctx, dn))
	}
	for _, h := range rec.Recovery {
		ok, err := d.verify(ctx, h, []byte(code))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		gone := true
		err = d.creds.Update(ctx, func(tx *store.Txn) error {
			var cur totpRecord
			if _, err := txGetRecord(tx, recTOTP, key, &cur); err != nil {
				return err
			}
			kept := cur.Recovery[:0:0]
			for _, x := range cur.Recovery {
				if x == h {
					gone = false
				} else {
					kept = append(kept, x)
				}
			}
			cur.Recovery, cur.Failures = kept, nil
			return txPutRecord(tx, recTOTP, key, cur)
		})
		if err != nil {
			return fmt.Errorf("using a recovery code for %s: %w", dn, err)
		}
		if !gone {
			return nil
		}
		break // used by a concurrent request
	}
	return errors.Join(ErrTOTPWrong, d.totpFailure(ctx, dn))
}

// RecoveryCodesLeft returns how many unused recovery codes dn has.
func (d *Door) RecoveryCodesLeft(ctx context.Context, dn store.DN) (int, error) {
	rec, err := d.readTOTP(ctx, dn)
	return len(rec.Recovery), err
}

func (d *Door) totpThrottled(rec totpRecord, now time.Time) bool {
	n := 0
	for _, f := range rec.Failures {
		if now.Sub(f) < totpFailWindow {
			n++
		}
	}
	return n >= totpMaxFailures
}

func (d *Door) totpFailure(ctx context.Context, dn store.DN) error {
	now := d.now().UTC()
	return d.creds.Update(ctx, func(tx *store.Txn) error {
		var cur totpRecord
		if _, err := txGetRecord(tx, recTOTP, recordKeyDN(dn), &cur); err != nil {
			return err
		}
		var keep []time.Time
		for _, f := range cur.Failures {
			if now.Sub(f) < totpFailWindow {
				keep = append(keep, f)
			}
		}
		cur.Failures = append(keep, now)
		return txPutRecord(tx, recTOTP, recordKeyDN(dn), cur)
	})
}

// normalizeCode drops spaces and dashes and upper-cases, so "123 456"
// and "abcde-fghij" are read as typed.
func normalizeCode(c string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, c))
}

// newRecoveryCode returns ten base32 characters (50 bits) as XXXXX-XXXXX.
// Below 112 bits, so they are kept as argon2id hashes (ASVS 5.0 6.5.2).
func newRecoveryCode() (string, error) {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("policy: reading random bytes: %w", err)
	}
	s := b32.EncodeToString(b[:])[:10]
	return s[:5] + "-" + s[5:], nil
}

// TOTPRemoval says what RemoveTOTP took away.
type TOTPRemoval struct {
	// Account is whom it was taken from (for the letter telling them).
	Account Account
	// App: a confirmed authenticator app.
	App bool
	// Pending: an enrolment not confirmed yet.
	Pending bool
	// RecoveryCodes is how many unused recovery codes went with it.
	RecoveryCodes int
	// Sessions is how many portal sessions of the person were ended.
	Sessions int
}

// Removed reports whether there was anything to remove.
func (r TOTPRemoval) Removed() bool { return r.App || r.Pending || r.RecoveryCodes > 0 }

// RemoveTOTP is the administrator's way out for a person who lost the
// phone and the recovery codes, or whose sealed secret no longer opens
// (ErrTOTPUnreadable): it deletes the account's second factor, confirmed
// and pending, with its recovery codes, without opening the secret. Only
// the administrator may (ErrInsufficientAccess otherwise); an entry that
// does not exist is store.ErrNoSuchObject. front names the way in for
// the audit trail ("dird mfa-reset"). A removal, even of nothing, is one
// EventTOTPRemoved.
//
// Every portal session of the person ends too, whatever was removed: a
// lost phone may still hold a signed-in portal, and a removal is the
// moment the administrator vouches for who the account belongs to.
func (d *Door) RemoveTOTP(ctx context.Context, actor, dn store.DN, front string) (TOTPRemoval, error) {
	if !d.IsAdmin(actor) {
		return TOTPRemoval{}, fmt.Errorf("%w: only the administrator may remove an authenticator app", ErrInsufficientAccess)
	}
	var r TOTPRemoval
	err := d.creds.Update(ctx, func(tx *store.Txn) error {
		e, err := tx.Get(dn)
		if err != nil {
			return err
		}
		var rec totpRecord
		found, err := txGetRecord(tx, recTOTP, recordKeyDN(dn), &rec)
		if err != nil {
			return err
		}
		r = TOTPRemoval{Account: *accountOf(e), App: rec.Secret != "", Pending: rec.Pending != "", RecoveryCodes: len(rec.Recovery)}
		if !found {
			return nil
		}
		return tx.DeleteRecord(recTOTP, recordKeyDN(dn))
	})
	if err != nil {
		return TOTPRemoval{}, fmt.Errorf("removing the authenticator app of %s: %w", dn, err)
	}
	// No session id is "" (ids are 256 random bits), so none is spared.
	n, err := d.EndOtherSessions(ctx, dn, "")
	r.Sessions = n
	d.emit(Event{Kind: EventTOTPRemoved, Front: front, User: dn.String(), Actor: actor.String(), Removal: r})
	if err != nil {
		return r, fmt.Errorf("the authenticator app of %s is removed, but its sessions did not all end (run it again): %w", dn, err)
	}
	return r, nil
}
