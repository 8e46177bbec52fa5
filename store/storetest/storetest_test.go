package storetest

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps checks the dependency rule: the suite imports only store of
// dird's own packages, so any backend can run it without import cycles.
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "store") }
