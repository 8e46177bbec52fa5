package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dird/dird/policy"
)

// sealKeyFile is the seal key's file in store.path: 32 random bytes that
// encrypt the sealed attributes (the NT hash kept for MSCHAPv2). It is
// made at the first start, mode 0600. A backup does not carry it: without
// it the NT hashes in a restored store do not open (users then need one
// cleartext login, or a new password, before MSCHAPv2 works again).
const sealKeyFile = "seal.key"

// loadSealKey reads <dir>/seal.key, or creates it when it does not exist.
// Creation is atomic: the key is written to a temporary file, synced,
// then linked to its name, which fails if another process made one first
// (whose key is then read). A file that is not 32 bytes is an error,
// never replaced: replacing it would lose every sealed value.
func loadSealKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, sealKeyFile)
	key, err := readSealKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	key = make([]byte, policy.SealKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".seal.key-*")
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; Chmod says it where it matters.
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(key)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSealKey(path)
		}
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // the new name survives a crash
		d.Close()
	}
	return key, nil
}

func readSealKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("reading the seal key %s: %w", path, err)
	}
	if len(key) != policy.SealKeySize {
		return nil, fmt.Errorf("the seal key %s has %d bytes, want %d: restore the file from where you keep it beside your backups "+
			"(a new key would make every sealed NT hash unreadable)", path, len(key), policy.SealKeySize)
	}
	return key, nil
}

// sealKeyWarning says what is wrong with the key file's mode, or "".
func sealKeyWarning(dir string) string {
	fi, err := os.Stat(filepath.Join(dir, sealKeyFile))
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return ""
	}
	return fmt.Sprintf("mode %o lets others read it; chmod 600 it", fi.Mode().Perm())
}
