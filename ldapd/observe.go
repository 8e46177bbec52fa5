package ldapd

// Observe sets fn to be told of every operation but bind, unbind,
// abandon and StartTLS, by name (search, add, modify, delete, modrdn,
// compare, extended), before it runs. Binds are reported by the policy
// door, which decides them. Call it before Serve; fn must be quick and
// safe for concurrent use.
func (s *Server) Observe(fn func(op string)) { s.observe = fn }

func (s *Server) observeOp(op any) {
	if s.observe != nil {
		s.observe(observedName(op))
	}
}

// observedName is the operation's name as ldapsearch's tools and slapd's logs
// call it.
func observedName(op any) string {
	switch op.(type) {
	case *SearchRequest:
		return "search"
	case *AddRequest:
		return "add"
	case *ModifyRequest:
		return "modify"
	case *DelRequest:
		return "delete"
	case *ModifyDNRequest:
		return "modrdn"
	case *CompareRequest:
		return "compare"
	case *ExtendedRequest:
		return "extended"
	}
	return "other"
}
