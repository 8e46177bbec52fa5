package memkv_test

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
	"github.com/dird/dird/store"
	"github.com/dird/dird/store/memkv"
	"github.com/dird/dird/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.KV {
		db := memkv.New()
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestDeps checks the dependency rule: a backend imports only store of
// dird's own packages.
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "store") }
