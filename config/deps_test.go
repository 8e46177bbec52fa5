package config

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDeps holds config to the layering rule: of dird's own packages it
// imports only the ones whose Config types it composes (tailscale
// tstest/deptest does the same for its binaries).
func TestDeps(t *testing.T) {
	allowed := []string{
		"github.com/dird/dird/ldapd",
		"github.com/dird/dird/policy",
		"github.com/dird/dird/radiusd",
		"github.com/dird/dird/store",
	}
	for _, imp := range ownImports(t, "github.com/dird/dird/config") {
		if !slices.Contains(allowed, imp) {
			t.Errorf("config imports %s; it may import only %v", imp, allowed)
		}
	}
}

// ownImports lists the dird packages pkg imports directly. -e keeps the
// list available while another package does not compile.
func ownImports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-f", `{{join .Imports "\n"}}`, pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var own []string
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "github.com/dird/dird/") {
			own = append(own, imp)
		}
	}
	if len(own) == 0 {
		t.Fatalf("go list %s found no dird imports; is the check looking at the right package?", pkg)
	}
	return own
}
