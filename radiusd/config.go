package radiusd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Config is the radius section of the configuration.
type Config struct {
	// Listen is the UDP authentication address; empty turns RADIUS off.
	Listen string `mapstructure:"listen"`
	// Clients are the only network access servers the server answers;
	// a packet from any other address is dropped.
	Clients []Client `mapstructure:"clients"`
	// EAPTLSCert and EAPTLSKey are the server certificate for PEAP and
	// EAP-TTLS; a self-signed one is made when both are empty.
	EAPTLSCert string `mapstructure:"eap_tls_cert"`
	EAPTLSKey  string `mapstructure:"eap_tls_key"`
}

// Client is one network access server (an access point, a switch, a VPN
// concentrator) allowed to send requests.
type Client struct {
	// Name is used in logs.
	Name string `mapstructure:"name"`
	// Address is a CIDR prefix (10.0.0.0/24) or a single address. A
	// packet belongs to the first client whose prefix holds its source.
	Address string `mapstructure:"address"`
	// Secret is the shared secret the client is configured with.
	Secret string `mapstructure:"secret"`
}

// Prefix returns the client's address as a prefix; a single address is a
// /32 (or /128).
func (c Client) Prefix() (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(c.Address); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(c.Address)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Validate checks the section without touching the file system.
func (c Config) Validate() error {
	if c.Listen != "" {
		_, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return fmt.Errorf("radius.listen: %q is not host:port, e.g. 127.0.0.1:1812", c.Listen)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("radius.listen: %q has no port number from 0 to 65535", c.Listen)
		}
		if len(c.Clients) == 0 {
			return errors.New("radius.clients: at least one client is required when radius.listen is set")
		}
	}
	names := map[string]int{}
	prefixes := map[netip.Prefix]int{}
	for i, cl := range c.Clients {
		key := fmt.Sprintf("radius.clients[%d]", i)
		if cl.Name == "" {
			return fmt.Errorf("%s.name: required", key)
		}
		if j, dup := names[cl.Name]; dup {
			return fmt.Errorf("%s.name: %q is already the name of radius.clients[%d]", key, cl.Name, j)
		}
		names[cl.Name] = i
		p, err := cl.Prefix()
		if err != nil {
			return fmt.Errorf("%s.address: %q is not a CIDR prefix or an IP address", key, cl.Address)
		}
		if j, dup := prefixes[p]; dup {
			return fmt.Errorf("%s.address: %s is already the address of radius.clients[%d]", key, p, j)
		}
		prefixes[p] = i
		if cl.Secret == "" {
			return fmt.Errorf("%s.secret: required", key)
		}
	}
	if (c.EAPTLSCert == "") != (c.EAPTLSKey == "") {
		return errors.New("radius.eap_tls_cert, radius.eap_tls_key: set both or neither")
	}
	return nil
}
