package notify

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps: the notifier reads the directory and sends mail; the expiry
// rule reaches it through the Expiry interface (policy.Door), so it does
// not import policy.
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "mail", "store") }
