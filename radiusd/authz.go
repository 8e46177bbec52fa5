package radiusd

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2868"

	"github.com/dird/dird/policy"
	"github.com/dird/dird/store"
)

// Authorisation: after policy has authenticated a user, which network it
// may use. A client may be restricted to members of some groups
// (radius.clients[].groups), and a group's members may get reply
// attributes on Access-Accept (radius.group_replies): a VLAN (RFC 3580),
// a Filter-Id, a Class. Both look at the authenticated identity: for EAP
// the inner one, never the outer (often "anonymous").

// RFC 3580 §3.31 values: Tunnel-Type VLAN, Tunnel-Medium-Type IEEE-802.
const (
	tunnelTypeVLAN       = rfc2868.TunnelType(13)
	tunnelMediumIEEE802  = rfc2868.TunnelMediumType_Value_IEEE802
	msgNoDialIn          = "You are not allowed to connect through this access point or VPN; contact your administrator"
	msgNoDialInMSCHAPLog = "not a member of any of the client's groups (radius.clients[].groups)"
)

// groupRef is a group named in the configuration: by DN, or by name (cn).
type groupRef struct {
	raw  string
	dn   store.DN // nil: by name
	name string
}

func parseGroupRef(g string) groupRef {
	r := groupRef{raw: g}
	if strings.Contains(g, "=") {
		if dn, err := store.ParseDN(g); err == nil {
			r.dn = dn
			return r
		}
	}
	r.name = strings.TrimSpace(g)
	return r
}

// matches reports whether group (an entry) is the one r names.
func (r groupRef) matches(group *store.Entry) bool {
	if r.dn != nil {
		return r.dn.Equal(group.DN)
	}
	return slices.ContainsFunc(group.Get("cn"), func(cn string) bool { return strings.EqualFold(cn, r.name) })
}

// groupReplyRule is one radius.group_replies entry, parsed.
type groupReplyRule struct {
	group groupRef
	reply GroupReply
}

// parseGroupReplies returns the rules in the order of their keys, which
// decides whose VLAN a member of several groups gets: the first's.
func parseGroupReplies(m map[string]GroupReply) []groupReplyRule {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	rules := make([]groupReplyRule, 0, len(keys))
	for _, k := range keys {
		rules = append(rules, groupReplyRule{group: parseGroupRef(k), reply: m[k]})
	}
	return rules
}

// authorize decides whether the user policy authenticated (out.Result
// is policy.OK) may use the network through client c, and returns the
// attributes its Access-Accept carries for the user's groups
// (radius.group_replies): Tunnel-Type, Tunnel-Medium-Type and
// Tunnel-Private-Group-ID for a VLAN, Filter-Id, Class. ok is false when
// c is restricted to groups (radius.clients[].groups) the user is in
// none of, or when its groups cannot be read; authorize logs why (with
// logArgs), and the caller sends an Access-Reject (PAP: Reply-Message
// msgNoDialIn; MS-CHAPv2: E=649). MS-CHAPv2 and EAP call it with the
// outcome of the (inner) identity; it also refuses an account with an
// authenticator app (TOTP), as those methods cannot ask for the code
// (papcode.go). PAP, which can, calls authorizeGroups and then
// challenges.
func (s *Server) authorize(ctx context.Context, c *client, out policy.Outcome, logArgs ...any) (attrs radius.Attributes, ok bool) {
	if s.needsSecondFactor(ctx, out, append(logArgs, "client", c.name)) {
		return nil, false
	}
	return s.authorizeGroups(ctx, c, out, logArgs...)
}

// authorizeGroups is authorize without the second-factor check.
func (s *Server) authorizeGroups(ctx context.Context, c *client, out policy.Outcome, logArgs ...any) (attrs radius.Attributes, ok bool) {
	if len(c.groups) == 0 && len(s.groupReplies) == 0 {
		return nil, true
	}
	logArgs = append(logArgs, "client", c.name, "dn", out.DN.String())
	var groups []*store.Entry
	if out.Entry != nil {
		var err error
		if groups, err = s.groupsOf(ctx, out.Entry); err != nil {
			s.log.Error("radius access rejected: reading the user's groups failed", append(logArgs, "err", err.Error())...)
			return nil, false
		}
	}
	in := func(r groupRef) bool { return slices.ContainsFunc(groups, r.matches) }
	if len(c.groups) > 0 && !slices.ContainsFunc(c.groups, in) {
		s.log.Warn("radius access rejected: "+msgNoDialInMSCHAPLog, append(logArgs, "groups", groupNames(c.groups))...)
		return nil, false
	}
	vlanFrom := ""
	var seen []string
	for _, rule := range s.groupReplies {
		if !in(rule.group) {
			continue
		}
		r := rule.reply
		if r.VLAN != 0 {
			if vlanFrom == "" {
				vlanFrom = rule.group.raw
				attrs = append(attrs, vlanAttrs(r.VLAN)...)
			} else {
				s.log.Warn("radius user is in several groups with a VLAN; the first one's applies",
					append(logArgs, "vlan_from", vlanFrom, "ignored", rule.group.raw)...)
			}
		}
		if r.FilterID != "" && !slices.Contains(seen, "f"+r.FilterID) {
			seen = append(seen, "f"+r.FilterID)
			attrs = append(attrs, &radius.AVP{Type: rfc2865.FilterID_Type, Attribute: radius.Attribute(r.FilterID)})
		}
		if r.Class != "" && !slices.Contains(seen, "c"+r.Class) {
			seen = append(seen, "c"+r.Class)
			attrs = append(attrs, &radius.AVP{Type: rfc2865.Class_Type, Attribute: radius.Attribute(r.Class)})
		}
	}
	return attrs, true
}

// vlanAttrs are RFC 3580 §3.31's three attributes for a VLAN. The tunnel
// attributes carry tag 0 (no tunnel grouping); Tunnel-Private-Group-ID is
// sent without a tag octet, as FreeRADIUS sends it untagged: its first
// character (a digit) cannot be taken for a tag (RFC 2868 §3.6).
func vlanAttrs(vlan int) radius.Attributes {
	p := &radius.Packet{}
	rfc2868.TunnelType_Add(p, 0, tunnelTypeVLAN)
	rfc2868.TunnelMediumType_Add(p, 0, tunnelMediumIEEE802)
	p.Add(rfc2868.TunnelPrivateGroupID_Type, radius.Attribute(strconv.Itoa(vlan)))
	return p.Attributes
}

// groupsOf returns the groups that list e: groupOfNames member,
// groupOfUniqueNames uniqueMember, posixGroup memberUid (one indexed
// search).
func (s *Server) groupsOf(ctx context.Context, e *store.Entry) ([]*store.Entry, error) {
	or := []store.Filter{
		{Kind: store.FilterEquality, Attr: "member", Value: e.DN.String()},
		{Kind: store.FilterEquality, Attr: "uniqueMember", Value: e.DN.String()},
	}
	for _, uid := range e.Get("uid") {
		or = append(or, store.Filter{Kind: store.FilterEquality, Attr: "memberUid", Value: uid})
	}
	var groups []*store.Entry
	err := s.dir.Search(ctx, store.SearchRequest{Base: s.dir.Base(), Scope: store.ScopeSubtree,
		Filter: store.Filter{Kind: store.FilterOr, Children: or}}, func(g *store.Entry) error {
		groups = append(groups, g)
		return nil
	})
	return groups, err
}

func groupNames(rs []groupRef) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.raw
	}
	return strings.Join(names, ", ")
}
