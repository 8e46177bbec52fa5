package store

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps holds store to the first layering rule: it imports nothing of
// dird's own, and no Badger or etcd driver.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if len(imports) == 0 {
		t.Fatal("go list found no imports: the check is looking at the wrong package")
	}
	for _, imp := range imports {
		if strings.HasPrefix(imp, "github.com/dird/dird/") || strings.Contains(imp, "badger") || strings.Contains(imp, "etcd") {
			t.Errorf("store imports %s", imp)
		}
	}
}
