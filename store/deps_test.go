package store

import (
	"strings"
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps holds store to the first layering rule: it imports nothing of
// dird's own, and no Badger or etcd driver.
func TestDeps(t *testing.T) {
	for _, imp := range deptest.Imports(t) {
		if strings.HasPrefix(imp, deptest.Module+"/") || strings.Contains(imp, "badger") || strings.Contains(imp, "etcd") {
			t.Errorf("store imports %s", imp)
		}
	}
}
