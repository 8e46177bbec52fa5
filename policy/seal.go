package policy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/dird/dird/store"
)

// Sealed secrets (DESIGN.md: "Secrets that must be reversible-equivalent
// are sealed"). The NT hash is as good as the password for MSCHAPv2, so it
// is stored only encrypted: AES-256-GCM under the seal key (32 bytes,
// server keeps it in <store.path>/seal.key), with the attribute name and
// the entry's normalised DN as additional data. A value copied to another
// entry or attribute, altered, or read with another key does not open.
// The stored form is "{SEALED}" followed by base64 of nonce | ciphertext.
//
// An entry renamed by the administrator (modrdn) keeps its sealed value,
// which then no longer opens under the new DN; the door treats it as
// missing and fills it again at the user's next cleartext login.

// SealKeySize is the length of policy.Options.SealKey.
const SealKeySize = 32

// sealedPrefix marks a sealed value.
const sealedPrefix = "{SEALED}"

// ntHashAttr is the operational attribute that keeps the sealed NT hash
// (store's schema: a Secret, never returned by a search).
const ntHashAttr = "dirdNTHash"

// ErrNoSealKey: policy.nt_hash is on but the door was given no seal key.
var ErrNoSealKey = errors.New("policy: policy.nt_hash needs a seal key of 32 bytes to keep NT hashes encrypted (dird serve keeps it in <store.path>/seal.key)")

// errSealed: a sealed value that does not open (altered, another entry's,
// another key's, or its entry was renamed).
var errSealed = errors.New("policy: sealed value does not open")

// sealer encrypts and decrypts sealed attribute values.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != SealKeySize {
		return nil, fmt.Errorf("%w: got %d bytes", ErrNoSealKey, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("policy: seal key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("policy: seal key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// sealAD binds a sealed value to its attribute and entry.
func sealAD(attr string, dn store.DN) []byte {
	return []byte(strings.ToLower(attr) + "\x00" + dn.Norm())
}

// seal encrypts plain for attribute attr of the entry at dn.
func (s *sealer) seal(attr string, dn store.DN, plain []byte) (string, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("policy: sealing %s: %w", attr, err)
	}
	out := s.aead.Seal(nonce, nonce, plain, sealAD(attr, dn))
	return sealedPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// open decrypts a value sealed for attribute attr of the entry at dn.
func (s *sealer) open(attr string, dn store.DN, value string) ([]byte, error) {
	enc, ok := strings.CutPrefix(value, sealedPrefix)
	if !ok {
		return nil, errSealed
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errSealed
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], sealAD(attr, dn))
	if err != nil {
		return nil, errSealed
	}
	return plain, nil
}

// opens reports whether value is sealed with the door's key for
// attribute attr of the entry at dn.
func (d *Door) opens(attr string, dn store.DN, value string) bool {
	if d.seal == nil {
		return false
	}
	p, err := d.seal.open(attr, dn, value)
	clear(p)
	return err == nil
}

// sealNTHash returns the sealed NT hash of password for the entry at dn,
// or "" when policy.nt_hash is off (the caller then removes any kept
// one).
func (d *Door) sealNTHash(dn store.DN, password []byte) (string, error) {
	if !d.cfg.NTHash {
		return "", nil
	}
	h := NTHash(password)
	defer clear(h)
	return d.seal.seal(ntHashAttr, dn, h)
}

// ntHashOf opens e's NT hash; nil when there is none that opens (policy
// off, never computed, hashed import, renamed entry, another seal key).
func (d *Door) ntHashOf(e *store.Entry) []byte {
	if !d.cfg.NTHash || d.seal == nil {
		return nil
	}
	v := e.First(ntHashAttr)
	if v == "" {
		return nil
	}
	h, err := d.seal.open(ntHashAttr, e.DN, v)
	if err != nil || len(h) != 16 {
		return nil
	}
	return h
}

// KeepsNTHash reports whether policy.nt_hash is on: NT hashes are kept
// (sealed) for MSCHAPv2.
func (d *Door) KeepsNTHash() bool { return d.cfg.NTHash }
