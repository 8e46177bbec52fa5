package ldapd

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDeps holds ldapd to the layering rule: of dird's packages it may
// import only policy and store, never another front.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{"github.com/dird/dird/policy", "github.com/dird/dird/store"}
	seen := 0
	for _, imp := range strings.Fields(string(out)) {
		if !strings.HasPrefix(imp, "github.com/dird/dird/") {
			continue
		}
		seen++
		if !slices.Contains(allowed, imp) {
			t.Errorf("ldapd imports %s; it may import only %v", imp, allowed)
		}
	}
	if seen == 0 {
		t.Fatal("go list found no dird imports: the check is looking at the wrong package")
	}
}
