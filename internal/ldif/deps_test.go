package ldif

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps keeps ldif a format package: it imports nothing of dird's own
// (package server turns records into entries), and only package server
// imports it, apart from tests.
func TestDeps(t *testing.T) {
	deptest.AllowOnly(t)
	users := deptest.Importers(t, "internal/ldif")
	if len(users) == 0 {
		t.Error("nothing imports internal/ldif: the check is looking at the wrong tree")
	}
	for _, u := range users {
		if u != "server" {
			t.Errorf("%s imports internal/ldif; only server may", u)
		}
	}
}
