package ldif

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps ldif a format package: it imports nothing of dird's own
// (package server turns records into entries), and only package server
// imports it, apart from tests.
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
		if strings.HasPrefix(imp, "github.com/dird/dird/") {
			t.Errorf("ldif imports %s", imp)
		}
	}
	out, err = exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/dird/dird/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	users := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if imp != "github.com/dird/dird/internal/ldif" {
				continue
			}
			users++
			if f[0] != "github.com/dird/dird/server" {
				t.Errorf("%s imports internal/ldif; only server may", f[0])
			}
		}
	}
	if users == 0 {
		t.Error("nothing imports internal/ldif: the check is looking at the wrong tree")
	}
}
