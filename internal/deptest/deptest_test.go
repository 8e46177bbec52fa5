package deptest

import (
	"slices"
	"testing"
)

// TestOwn proves the filter can tell dird's packages from others, so the
// TestDeps built on it can fail.
func TestOwn(t *testing.T) {
	got := Own([]string{"fmt", Module + "/store", "github.com/dird/dirdx", Module + "/policy"})
	if !slices.Equal(got, []string{Module + "/store", Module + "/policy"}) {
		t.Fatalf("Own = %v", got)
	}
}

// TestDeps: deptest itself imports nothing of dird's.
func TestDeps(t *testing.T) { AllowOnly(t) }

// TestImporters finds a known importer, so an empty answer elsewhere
// means what it says.
func TestImporters(t *testing.T) {
	if users := Importers(t, "store"); !slices.Contains(users, "policy") {
		t.Fatalf("Importers(store) = %v, want policy among them", users)
	}
}
