package main

import (
	"testing"

	"github.com/dird/dird/internal/deptest"
)

// TestDeps keeps the binary thin: it reaches the rest of dird only through
// config (to load) and server (to run).
func TestDeps(t *testing.T) { deptest.AllowOnly(t, "config", "server") }
