package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
)

// The sections below are config's own: they belong to no other package.
// Every other section lives, Validate and all, in the package it
// configures, and config only composes it.

// AdminConfig is the administrator: the account that writes the directory
// with the ordinary OpenLDAP tools. It exists from the first start.
type AdminConfig struct {
	// DN is the administrator's entry, directly under base_dn, e.g.
	// cn=admin,dc=example,dc=com.
	DN string `mapstructure:"dn"`
	// Password is cleartext or a hash ({ARGON2}, {SSHA}, {CRYPT},
	// $argon2id$...). Exactly one of Password and PasswordFile is set.
	Password string `mapstructure:"password"`
	// PasswordFile names a file holding the password (one line), so the
	// secret need not sit in the configuration.
	PasswordFile string `mapstructure:"password_file"`
}

// Validate checks the section without touching the file system. That
// admin.dn lies under base_dn is checked by Config.Validate.
func (c AdminConfig) Validate() error {
	if c.DN == "" {
		return errors.New("admin.dn: required, e.g. cn=admin,dc=example,dc=com")
	}
	switch {
	case c.Password == "" && c.PasswordFile == "":
		return errors.New("admin.password, admin.password_file: set one of them")
	case c.Password != "" && c.PasswordFile != "":
		return errors.New("admin.password, admin.password_file: set only one of them")
	}
	return nil
}

// ReadPassword returns the administrator's password: Password, or the
// first line of PasswordFile. It is the one place that reads that file;
// Load does not, so check-config and Validate stay free of side effects.
func (c AdminConfig) ReadPassword() (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	data, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("admin.password_file: reading %q: %w", c.PasswordFile, err)
	}
	pw, _, _ := strings.Cut(string(data), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("admin.password_file: %q is empty", c.PasswordFile)
	}
	return pw, nil
}

// LogConfig is the log section: how much dird writes and in which form.
type LogConfig struct {
	// Level is the least severe line written: debug, info, warn or error.
	// debug adds a line per LDAP search with the plan that answered it.
	Level string `mapstructure:"level"`
	// Format is json (one object per line, for log collectors) or text
	// (key=value, for reading on a terminal).
	Format string `mapstructure:"format"`
}

// Validate checks the section without touching the file system.
func (c LogConfig) Validate() error {
	if _, err := c.SlogLevel(); err != nil {
		return err
	}
	switch c.Format {
	case "json", "text":
		return nil
	}
	return fmt.Errorf("log.format: %q is not json or text", c.Format)
}

// SlogLevel is Level as a log/slog level.
func (c LogConfig) SlogLevel() (slog.Level, error) {
	switch strings.ToLower(c.Level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level: %q is not debug, info, warn or error", c.Level)
}

// validListen checks a listen address: host:port with a numeric port, the
// host optional (all addresses) and the port 0 allowed (any free port,
// which tests use).
func validListen(key, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: %q is not host:port, e.g. 127.0.0.1:%s", key, addr, examplePort(key))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: %q has no port number from 0 to 65535", key, addr)
	}
	return nil
}

func examplePort(key string) string {
	switch key {
	case "portal.listen":
		return "8080"
	case "metrics.listen":
		return "9100"
	}
	return "3389"
}
