package radiusd

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/dird/dird/store"
)

// Config is the radius section of the configuration.
type Config struct {
	// Listen is the UDP authentication address; empty turns RADIUS off.
	Listen string `mapstructure:"listen"`
	// AccountingListen is the UDP accounting address (RFC 2866):
	// "auto" (the default) is radius.listen's host and the next port
	// (1813 beside 1812); empty turns accounting off.
	AccountingListen string `mapstructure:"accounting_listen"`
	// Clients are the only network access servers the server answers;
	// a packet from any other address is dropped.
	Clients []Client `mapstructure:"clients"`
	// EAPTLSCert and EAPTLSKey are the server certificate for PEAP and
	// EAP-TTLS; a self-signed one is made when both are empty.
	EAPTLSCert string `mapstructure:"eap_tls_cert"`
	EAPTLSKey  string `mapstructure:"eap_tls_key"`
	// GroupReplies are the attributes an Access-Accept carries for the
	// members of a group (VLAN, Filter-Id, Class), keyed by group: its
	// name (cn) or its DN. See authz.go.
	GroupReplies map[string]GroupReply `mapstructure:"group_replies"`
}

// GroupReply is what an Access-Accept carries for a group's members.
type GroupReply struct {
	// VLAN assigns the VLAN (RFC 3580: Tunnel-Type = VLAN,
	// Tunnel-Medium-Type = IEEE-802, Tunnel-Private-Group-ID = the
	// number); 0: none.
	VLAN int `mapstructure:"vlan"`
	// FilterID is sent as Filter-Id (RFC 2865 §5.11): the name of a
	// filter list the access point or VPN applies; "": none.
	FilterID string `mapstructure:"filter_id"`
	// Class is sent as Class (RFC 2865 §5.25), which the client echoes
	// in its accounting; "": none.
	Class string `mapstructure:"class"`
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
	// Groups, when set, lets only members of these groups (names (cn) or
	// DNs; groupOfNames member, uniqueMember or posixGroup memberUid) in
	// through this client; others get an Access-Reject.
	Groups []string `mapstructure:"groups"`
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
		for j, g := range cl.Groups {
			if err := checkGroupRef(g); err != nil {
				return fmt.Errorf("%s.groups[%d]: %w", key, j, err)
			}
		}
	}
	for g, r := range c.GroupReplies {
		key := fmt.Sprintf("radius.group_replies[%q]", g)
		if err := checkGroupRef(g); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		switch {
		case r.VLAN < 0 || r.VLAN > 4094:
			return fmt.Errorf("%s.vlan: %d is not a VLAN ID from 1 to 4094 (0: none)", key, r.VLAN)
		case len(r.FilterID) > maxAttrValue:
			return fmt.Errorf("%s.filter_id: longer than %d bytes", key, maxAttrValue)
		case len(r.Class) > maxAttrValue:
			return fmt.Errorf("%s.class: longer than %d bytes", key, maxAttrValue)
		case r.VLAN == 0 && r.FilterID == "" && r.Class == "":
			return fmt.Errorf("%s: sets nothing; give vlan, filter_id or class", key)
		}
	}
	if err := c.validateAccounting(); err != nil {
		return err
	}
	if (c.EAPTLSCert == "") != (c.EAPTLSKey == "") {
		return errors.New("radius.eap_tls_cert, radius.eap_tls_key: set both or neither")
	}
	return nil
}

// maxAttrValue is the longest value a RADIUS attribute carries (RFC 2865
// §5: the length octet counts the two header bytes).
const maxAttrValue = 253

// checkGroupRef checks a group named in the configuration: a name (the
// group's cn), or a DN when it holds "=".
func checkGroupRef(g string) error {
	switch {
	case strings.TrimSpace(g) == "":
		return errors.New("empty group name")
	case strings.Contains(g, "="):
		if _, err := store.ParseDN(g); err != nil {
			return fmt.Errorf("%q is not a DN", g)
		}
	}
	return nil
}
