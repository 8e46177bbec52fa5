package ldapd

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps holds ldapd to the layering rule: of dird's packages it may
// import only policy and store, never another front.
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "policy", "store") }
