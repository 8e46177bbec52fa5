package policy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps holds policy to the layering rule (STYLE.md, dependency rule 2):
// of dird's own packages it imports only store.
func TestDeps(t *testing.T) {
	const pkg = "github.com/dird/dird/policy"
	// -e keeps the list available while another package does not compile.
	out, err := exec.Command("go", "list", "-e", "-f", `{{join .Imports "\n"}}`, pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var own []string
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "github.com/dird/dird/") || imp == "github.com/dird/dird" {
			own = append(own, imp)
		}
	}
	if len(own) == 0 {
		t.Fatalf("go list %s found no dird imports; is the check looking at the right package?", pkg)
	}
	for _, imp := range own {
		if imp != "github.com/dird/dird/store" {
			t.Errorf("policy imports %s; it may import only github.com/dird/dird/store", imp)
		}
	}
}
