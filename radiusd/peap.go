package radiusd

import "context"

// peapInner is PEAPv0's inner conversation.
func (s *Server) peapInner(ctx context.Context, t *tunnel) eapStep {
	t.log.Warn("radius EAP rejected: PEAP needs NT hashes for its inner MSCHAPv2, which are not built yet; use EAP-TTLS with PAP")
	return eapStep{}
}
