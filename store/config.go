package store

import (
	"errors"
	"fmt"
)

// Config is the store section of the configuration.
type Config struct {
	// Backend is "badger" (embedded, default) or "etcd" (not yet built).
	Backend string `mapstructure:"backend"`
	// Path is the Badger directory.
	Path string `mapstructure:"path"`
	// EtcdEndpoints are the etcd client URLs for the etcd backend.
	EtcdEndpoints []string `mapstructure:"etcd_endpoints"`
}

// Validate checks the section without touching the file system.
func (c Config) Validate() error {
	switch c.Backend {
	case "badger":
		if c.Path == "" {
			return errors.New("store.path: required when store.backend is badger")
		}
	case "etcd":
		return errors.New("store.backend: etcd is not available in this build yet; use badger")
	default:
		return fmt.Errorf("store.backend: %q is not one of badger, etcd", c.Backend)
	}
	return nil
}
