package radiusd

import (
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/vendors/microsoft"
)

// Observe sets fn to be told of every admitted request once it is
// decided: its method (pap, mschapv2, eap, status, accounting, other)
// and outcome (accept, reject, challenge, dropped; an answered
// Accounting-Request is an accept). Call it before ServePacket; fn
// must be quick and safe for concurrent use.
func (s *Server) Observe(fn func(method, outcome string)) { s.observe = fn }

// SetClients replaces the client table at once: requests already
// admitted finish with the client they were admitted with, and the next
// datagram is checked against the new table. A client whose address does
// not parse is left out (config validation has refused it already).
func (s *Server) SetClients(cfg []Client) {
	var clients []client
	for _, c := range cfg {
		p, err := c.Prefix()
		if err != nil {
			s.log.Error("radius client left out: address does not parse", "client", c.Name, "address", c.Address)
			continue
		}
		cl := client{name: c.Name, prefix: p, secret: []byte(c.Secret)}
		for _, g := range c.Groups {
			cl.groups = append(cl.groups, parseGroupRef(g))
		}
		clients = append(clients, cl)
		if weakSecret(c.Secret) && !loopbackOnly(p) {
			// FreeRADIUS's clients.conf: shared secrets typed by hand are
			// trivial to crack; a captured request gives an offline guess.
			s.log.Warn("radius client secret is weak: use at least 16 random characters, e.g. from: openssl rand -base64 24",
				"client", c.Name, "address", p.String())
		}
	}
	s.clients.Store(&clients)
}

// report tells the observer of a decided request.
func (s *Server) report(r *request, out reply) {
	if s.observe == nil {
		return
	}
	outcome := "dropped"
	switch {
	case out.silent:
	case out.code == radius.CodeAccessAccept, out.code == radius.CodeAccountingResponse:
		outcome = "accept"
	case out.code == radius.CodeAccessReject:
		outcome = "reject"
	case out.code == radius.CodeAccessChallenge:
		outcome = "challenge"
	}
	s.observe(methodOf(r.pkt), outcome)
}

// methodOf names how a request authenticates, by the attribute it
// carries, in the order access tries them.
func methodOf(p *radius.Packet) string {
	switch {
	case p.Code == radius.CodeStatusServer:
		return "status"
	case p.Code == radius.CodeAccountingRequest:
		return "accounting"
	case hasAttr(p, rfc2869.EAPMessage_Type):
		return "eap"
	case hasVendorAttr(p, microsoft.MSCHAP2Response_Lookup):
		return "mschapv2"
	case hasAttr(p, rfc2865.UserPassword_Type):
		return "pap"
	}
	return "other"
}
