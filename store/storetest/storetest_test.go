package storetest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps checks the dependency rule: the suite imports only store of
// dird's own packages, so any backend can run it without import cycles.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for imp := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(imp, "github.com/dird/dird/") && imp != "github.com/dird/dird/store" {
			t.Errorf("storetest imports %s; it may import only github.com/dird/dird/store of dird's own", imp)
		}
	}
}
