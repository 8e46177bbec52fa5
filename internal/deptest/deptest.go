// Package deptest checks dird's layering rules (DESIGN.md) from each
// package's TestDeps, the way tailscale's tstest/deptest does: it asks
// `go list` what a package imports, so the rules hold for the code as
// built, not as documented. It imports nothing of dird's and is imported
// only by tests.
package deptest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Module is dird's module path.
const Module = "github.com/dird/dird"

// Imports returns what the package in the test's directory imports
// directly (tests excluded). -e keeps the list available while another
// package does not compile.
func Imports(t testing.TB) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if len(imports) == 0 {
		t.Fatal("go list found no imports: the check is looking at the wrong package")
	}
	return imports
}

// Own keeps dird's own packages of imports.
func Own(imports []string) []string {
	var own []string
	for _, imp := range imports {
		if strings.HasPrefix(imp, Module+"/") {
			own = append(own, imp)
		}
	}
	return own
}

// AllowOnly fails t for each of dird's packages the current package
// imports that is not in allowed (paths relative to the module, e.g.
// "store"). allowed empty means: none of dird's at all.
func AllowOnly(t testing.TB, allowed ...string) {
	t.Helper()
	own := Own(Imports(t))
	if len(allowed) > 0 && len(own) == 0 {
		t.Fatal("go list found none of dird's imports: the check is looking at the wrong package")
	}
	for _, imp := range own {
		if !slices.Contains(allowed, strings.TrimPrefix(imp, Module+"/")) {
			t.Errorf("imports %s; of dird's packages it may import only %v", imp, allowed)
		}
	}
}

// Importers returns the packages of the module that import pkg (a path
// relative to the module) directly, tests excluded.
func Importers(t testing.TB, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, Module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list found only %d packages: the check is looking at the wrong tree", len(lines))
	}
	var users []string
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) > 1 && slices.Contains(f[1:], Module+"/"+pkg) {
			users = append(users, strings.TrimPrefix(f[0], Module+"/"))
		}
	}
	return users
}
