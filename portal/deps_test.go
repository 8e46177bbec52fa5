package portal

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps: portal is a front: it reaches credentials only through policy
// (and store types), sends mail through mail, and never imports another
// front.
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "mail", "policy", "store") }
