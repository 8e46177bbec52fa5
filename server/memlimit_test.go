package server

import (
	"io"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/dird/dird/config"
)

func TestMemoryLimit(t *testing.T) {
	cpus := int64(runtime.NumCPU())
	tests := []struct {
		name      string
		argon2KiB uint32
		want      int64
	}{
		{"OWASP minimum (the default)", 19456, memoryBase + (cpus+1)*19456<<10},
		{"slapd's argon2 module at m=64 MiB", 65536, memoryBase + (cpus+1)*64<<20},
	}
	for _, tt := range tests {
		var cfg config.Config
		cfg.Policy.Argon2Memory = tt.argon2KiB
		if got := memoryLimit(cfg); got != tt.want {
			t.Errorf("%s: memoryLimit = %d MiB, want %d MiB", tt.name, got>>20, tt.want>>20)
		}
	}
}

func TestSetMemoryLimitLeavesGOMEMLIMIT(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var cfg config.Config
	cfg.Policy.Argon2Memory = 19456

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	setMemoryLimit(cfg, log)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, the limit became %d", got)
	}

	t.Setenv("GOMEMLIMIT", "")
	setMemoryLimit(cfg, log)
	if got := debug.SetMemoryLimit(-1); got != memoryLimit(cfg) {
		t.Errorf("limit = %d, want %d", got, memoryLimit(cfg))
	}
}
