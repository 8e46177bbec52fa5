package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDeps keeps the binary thin: it reaches the rest of dird only through
// config (to load) and server (to run).
func TestDeps(t *testing.T) {
	allowed := []string{"github.com/dird/dird/config", "github.com/dird/dird/server"}
	out, err := exec.Command("go", "list", "-e", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var own []string
	for _, imp := range strings.Fields(string(out)) {
		if strings.HasPrefix(imp, "github.com/dird/dird/") {
			own = append(own, imp)
		}
	}
	if len(own) == 0 {
		t.Fatal("go list found no dird imports; is the check looking at the right package?")
	}
	for _, imp := range own {
		if !slices.Contains(allowed, imp) {
			t.Errorf("cmd/dird imports %s; it may import only %v", imp, allowed)
		}
	}
}
