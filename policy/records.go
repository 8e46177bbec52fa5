package policy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dird/dird/store"
)

// Record kinds kept beside the directory (store/records.go). Secrets are
// never ids: a session id or reset token is stored as its SHA-256, which
// is enough for a 256-bit random value (ASVS 5.0 6.5.2: look-up secrets of
// 112 bits or more may use an unsalted approved hash).
const (
	recSession   = "session"    // sha256(session id) -> sessionRecord
	recSessionDN = "session-dn" // normalised DN \x00 sha256(session id) -> ""
	recReset     = "reset"      // sha256(token) -> resetRecord
	recResetUser = "reset-dn"   // normalised DN -> sha256(latest token)
	recTOTP      = "totp"       // normalised DN -> totpRecord
)

// newSecret returns 256 random bits, URL-safe, and the record id that
// stands for it.
func newSecret() (secret, id string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("policy: reading random bytes: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, secretID(secret), nil
}

// secretID is the record id of a secret: its SHA-256 in hex.
func secretID(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// credentialStamp identifies the password an entry has now. It changes
// with every password change or reset, on any front and by the
// administrator (pwdChangedTime and the newest pwdHistory value both move),
// but not with a hash upgrade at bind. Sessions and reset tokens carry the
// stamp of their issue and die when it no longer matches, so revocation
// needs no event to reach them (DESIGN: a session ends when the password
// changes, wherever it changed).
func credentialStamp(e *store.Entry) string {
	h := sha256.New()
	h.Write([]byte(e.First("pwdChangedTime")))
	h.Write([]byte{0})
	s := readState(e)
	if len(s.history) > 0 {
		h.Write([]byte(s.history[0].hash))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (d *Door) getRecord(ctx context.Context, kind, id string, v any) (bool, error) {
	raw, err := d.creds.GetRecord(ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("policy: decoding %s record: %w", kind, err)
	}
	return true, nil
}

func txGetRecord(tx *store.Txn, kind, id string, v any) (bool, error) {
	raw, err := tx.GetRecord(kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("policy: decoding %s record: %w", kind, err)
	}
	return true, nil
}

func txPutRecord(tx *store.Txn, kind, id string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("policy: encoding %s record: %w", kind, err)
	}
	return tx.PutRecord(kind, id, raw)
}
