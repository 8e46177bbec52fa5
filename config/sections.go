package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// The sections below belong to packages that are not built yet (portal,
// the metrics endpoint, mail, the notifier). Each moves to its
// package, Validate and all, when that package is built; config then only
// composes it, as it does store.Config and radiusd.Config.

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

// PortalConfig is the portal section. It moves to package portal.
type PortalConfig struct {
	// Listen is the HTTP address; empty turns the portal off.
	Listen string `mapstructure:"listen"`
	// PublicURL is the base of links in emails. It is never taken from a
	// request's Host header, which an attacker chooses.
	PublicURL string `mapstructure:"public_url"`
	// ResetTTL is how long an emailed reset link works.
	ResetTTL time.Duration `mapstructure:"reset_ttl"`
}

// maxResetTTL bounds reset links: a link is as good as the password it
// lets a reader set, and mailboxes are kept for years.
const maxResetTTL = 24 * time.Hour

// Validate checks the section without touching the file system.
func (c PortalConfig) Validate() error {
	if c.Listen != "" {
		if err := validListen("portal.listen", c.Listen); err != nil {
			return err
		}
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("portal.public_url: %q is not an http:// or https:// URL, e.g. https://id.example.com", c.PublicURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("portal.public_url: %q must have no user, query or fragment", c.PublicURL)
	}
	switch {
	case c.ResetTTL <= 0:
		return errors.New("portal.reset_ttl: must be positive, e.g. 10m")
	case c.ResetTTL > maxResetTTL:
		return fmt.Errorf("portal.reset_ttl: %s is longer than the 24h allowed", c.ResetTTL)
	}
	return nil
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
