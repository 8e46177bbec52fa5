package policy

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps holds policy to the layering rule (dependency rule 2): of
// dird's own packages it imports only store.
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "store") }
