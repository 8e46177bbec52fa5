package mail

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps: mail is a leaf; it imports none of dird's packages.
func TestDeps(t *testing.T) { deptest.AllowOnly(t) }
