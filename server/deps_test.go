package server

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps checks who may import server: only cmd/dird and
// internal/dirdtest (and tests).
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/dird/dird/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{"github.com/dird/dird/cmd/dird": true, "github.com/dird/dird/internal/dirdtest": true}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list found only %d packages", len(lines))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if imp == "github.com/dird/dird/server" && !allowed[f[0]] {
				t.Errorf("%s imports server; only cmd/dird and internal/dirdtest may", f[0])
			}
		}
	}
}
