package ldapd

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps holds ldapd to the layering rule: of dird's packages it may
// import only policy and store, never another front (and
// internal/workpool, a leaf that imports nothing of dird's).
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "internal/workpool", "policy", "store") }
