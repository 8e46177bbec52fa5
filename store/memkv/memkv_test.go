package memkv_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
	"github.com/dird/dird/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.KV {
		db := memkv.New()
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestDeps checks the dependency rule: a backend imports only store of
// dird's own packages.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for imp := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(imp, "github.com/dird/dird/") && imp != "github.com/dird/dird/store" {
			t.Errorf("memkv imports %s; it may import only github.com/dird/dird/store of dird's own", imp)
		}
	}
}
