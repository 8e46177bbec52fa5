package metrics

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps: metrics imports none of dird's packages; the fronts report
// to it through hooks that server wires, so it can never reach into them.
func TestDeps(t *testing.T) { deptest.AllowOnly(t) }
