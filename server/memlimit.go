package server

import (
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/dird/dird/config"
)

// memoryBase is what dird holds besides password hashing: the store's
// memtables and caches (about 40 MiB), the read cache (32 MiB), the
// connections' buffers and the Go runtime.
const memoryBase = 96 << 20

// memoryLimit is the soft memory limit `dird serve` gives the Go runtime
// (debug.SetMemoryLimit), unless GOMEMLIMIT is set.
//
// Each argon2id verification allocates its whole memory cost (64 MiB at
// m=65536) and drops it when done. With only Go's default GOGC pacing the
// heap may double past what is live before a collection, so a bind flood
// at m=64 MiB on two cores peaked at 420 MiB of RSS although at most two
// hashes run at once (policy bounds them to one per CPU). The limit makes
// the collector reclaim finished hashes sooner instead; the memory is
// pointer-free, so those collections cost little. It is soft: a heap
// that truly needs more gets it, with more frequent collections.
func memoryLimit(cfg config.Config) int64 {
	perHash := int64(cfg.Policy.Argon2Memory) << 10
	// One hash more than run at once: the next hash's memory must fit
	// beside the running ones without the runtime first returning freed
	// memory to the system (a limit of exactly the running hashes made
	// every hash fault its 64 MiB in afresh: half the bind rate).
	return memoryBase + int64(runtime.NumCPU()+1)*perHash
}

// setMemoryLimit applies memoryLimit, unless the administrator chose one
// with GOMEMLIMIT.
func setMemoryLimit(cfg config.Config, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit from GOMEMLIMIT", "limit", os.Getenv("GOMEMLIMIT"))
		return
	}
	limit := memoryLimit(cfg)
	debug.SetMemoryLimit(limit)
	log.Info("memory limit", "mib", limit>>20, "why", "argon2id hashes are reclaimed promptly; GOMEMLIMIT overrides")
}
