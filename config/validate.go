package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/dird/dird/store"
)

// Validate runs every section's Validate, then the checks that span
// sections. It is pure: it reads no file and opens no socket. It returns
// the first problem, as one line that names the key.
func (c Config) Validate() error {
	if c.BaseDN == "" {
		return errors.New("base_dn: required, e.g. dc=example,dc=com")
	}
	base, err := store.ParseDN(c.BaseDN)
	if err != nil || len(base) == 0 {
		return fmt.Errorf("base_dn: %q is not a DN; write e.g. dc=example,dc=com", c.BaseDN)
	}
	if err := c.Admin.Validate(); err != nil {
		return err
	}
	admin, err := store.ParseDN(c.Admin.DN)
	if err != nil || len(admin) == 0 {
		return fmt.Errorf("admin.dn: %q is not a DN; write e.g. cn=admin,%s", c.Admin.DN, c.BaseDN)
	}
	// The administrator's entry is created beside the base entry at the
	// first start, so it must be a direct child: a deeper DN would need
	// parent entries nobody has created yet.
	if len(admin) != len(base)+1 || !admin.IsUnder(base) {
		return fmt.Errorf("admin.dn: %q must be directly under base_dn %q, e.g. cn=admin,%s", c.Admin.DN, c.BaseDN, c.BaseDN)
	}

	for _, v := range []interface{ Validate() error }{
		c.Store, c.LDAP, c.Radius, c.Portal, c.Metrics, c.Mail, c.Policy, c.Notify, c.Log,
	} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return c.checkListeners()
}

// listener is one socket a front binds.
type listener struct {
	key, network, addr string
}

// checkListeners refuses two fronts on one port, which would otherwise
// surface only at start as "address already in use" without saying which
// keys collide. Port 0 (any free port) never collides, and TCP and UDP
// ports are separate.
func (c Config) checkListeners() error {
	all := []listener{
		{"ldap.listen", "tcp", c.LDAP.Listen},
		{"ldap.ldaps_listen", "tcp", c.LDAP.LDAPSListen},
		{"radius.listen", "udp", c.Radius.Listen},
		{"portal.listen", "tcp", c.Portal.Listen},
		{"metrics.listen", "tcp", c.Metrics.Listen},
	}
	for i, a := range all {
		for _, b := range all[:i] {
			if a.network != b.network || a.addr == "" || b.addr == "" {
				continue
			}
			ah, ap, err1 := net.SplitHostPort(a.addr)
			bh, bp, err2 := net.SplitHostPort(b.addr)
			if err1 != nil || err2 != nil || ap != bp || ap == "0" {
				continue
			}
			if hostsOverlap(ah, bh) {
				return fmt.Errorf("%s: port %s is already taken by %s (%s); pick another port", a.key, ap, b.key, b.addr)
			}
		}
	}
	return nil
}

// hostsOverlap reports whether binding the same port on both hosts would
// clash: the same host, or either being the wildcard address.
func hostsOverlap(a, b string) bool {
	if strings.EqualFold(a, b) || wildcard(a) || wildcard(b) {
		return true
	}
	return loopback(a) && loopback(b) && (strings.EqualFold(a, "localhost") || strings.EqualFold(b, "localhost"))
}

func wildcard(h string) bool {
	if h == "" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsUnspecified()
}

func loopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.IsLoopback()
}
