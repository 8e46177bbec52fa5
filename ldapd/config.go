package ldapd

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Config is the ldap section of the configuration.
type Config struct {
	// Listen is the LDAP address; StartTLS is offered when TLSCert and
	// TLSKey are set.
	Listen string `mapstructure:"listen"`
	// LDAPSListen is an optional LDAPS (TLS from the first byte) address.
	LDAPSListen string `mapstructure:"ldaps_listen"`
	TLSCert     string `mapstructure:"tls_cert"`
	TLSKey      string `mapstructure:"tls_key"`
	// AnonymousRead lets anonymous binds search; otherwise they see only
	// the RootDSE.
	AnonymousRead bool `mapstructure:"anonymous_read"`
	// IdleTimeout closes a connection that sent no message for this long;
	// 0 turns it off.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxConnections bounds concurrent connections over all listeners.
	MaxConnections int `mapstructure:"max_connections"`
}

// Validate checks the section without touching the file system.
func (c Config) Validate() error {
	if c.Listen == "" && c.LDAPSListen == "" {
		return errors.New("ldap.listen: required (or set ldap.ldaps_listen)")
	}
	for key, addr := range map[string]string{"ldap.listen": c.Listen, "ldap.ldaps_listen": c.LDAPSListen} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s: %q is not host:port: %w", key, addr, err)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("ldap.tls_cert, ldap.tls_key: set both or neither")
	}
	if c.LDAPSListen != "" && c.TLSCert == "" {
		return errors.New("ldap.ldaps_listen: needs ldap.tls_cert and ldap.tls_key")
	}
	if c.IdleTimeout < 0 {
		return errors.New("ldap.idle_timeout: must not be negative")
	}
	if c.MaxConnections <= 0 {
		return errors.New("ldap.max_connections: must be at least 1")
	}
	return nil
}
