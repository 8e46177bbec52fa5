package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dird/dird/config"
	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/badgerkv"
)

// The operations commands (dird import, export, backup, restore) are
// orchestrated here, so that cmd/dird stays a thin layer of flags and
// messages. Import and restore need the server stopped: they open the
// store themselves, and Badger's lock tells them when a dird serve holds
// it. Export and backup work either way: when a dird serve runs they ask
// it over its control socket (ops_control.go), otherwise they open the
// store.

// ErrStoreInUse is wrapped by the errors of operations that found the
// store locked by a running dird serve.
var ErrStoreInUse = errors.New("server: store in use by a running dird serve")

// opsError is a message the commands print as it is, which still
// matches its sentinel with errors.Is and unwraps to its cause.
type opsError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *opsError) Error() string        { return e.msg }
func (e *opsError) Is(target error) bool { return target == e.sentinel }
func (e *opsError) Unwrap() error        { return e.cause }

// openStore opens the configured backend for an operations command. A
// store held by a running dird serve gives an error wrapping
// ErrStoreInUse that says what to do (detail). With mustExist, a missing
// store directory is an error rather than a new, empty store.
func openStore(cfg config.Config, mustExist bool, detail string) (*badgerkv.DB, error) {
	if cfg.Store.Backend != "badger" {
		return nil, fmt.Errorf("store.backend: %q is not supported by this command", cfg.Store.Backend)
	}
	if mustExist {
		if _, err := os.Stat(cfg.Store.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("there is no store at %s (store.path)", cfg.Store.Path)
		}
	}
	db, err := badgerkv.Open(cfg.Store.Path, badgerkv.Options{Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if errors.Is(err, badgerkv.ErrInUse) {
		return nil, &opsError{msg: fmt.Sprintf("the store at %s is in use by a running dird serve; %s", cfg.Store.Path, detail),
			sentinel: ErrStoreInUse, cause: err}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the store at %s: %w", cfg.Store.Path, err)
	}
	return db, nil
}

// controlPath is where a running dird serve answers operations commands.
func controlPath(cfg config.Config) string {
	return filepath.Join(cfg.Store.Path, "dird.sock")
}

// newDoor builds the policy door over dir, as Start does.
func newDoor(cfg config.Config, dir *store.Directory) (*policy.Door, error) {
	pw, err := cfg.Admin.ReadPassword()
	if err != nil {
		return nil, err
	}
	key, err := loadSealKey(cfg.Store.Path)
	if err != nil {
		return nil, err
	}
	return policy.New(dir, cfg.Policy, policy.Admin{DN: cfg.Admin.DN, Password: pw}, policy.Options{SealKey: key})
}

// isEmpty reports whether kv holds no key at all.
func isEmpty(ctx context.Context, kv store.KV) (bool, error) {
	empty := true
	err := kv.Scan(ctx, nil, func(_, _ []byte) error {
		empty = false
		return store.ErrStopScan
	})
	return empty, err
}
