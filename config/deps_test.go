package config

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps holds config to the layering rule: of dird's own packages it
// imports only the ones whose Config types it composes (tailscale
// tstest/deptest does the same for its binaries).
func TestDeps(t *testing.T) {
	deptest.AllowOnly(t, "ldapd", "mail", "metrics", "notify", "policy", "portal", "radiusd", "store")
}
