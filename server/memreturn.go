package server

import (
	"context"
	"sync/atomic"
	"time"
)

// hashQuietAfter is how long hashing must have been idle before the
// memory of finished hashes is handed back to the system.
const hashQuietAfter = 2 * time.Second

// returnHashMemory hands the memory of finished password hashes back to
// the system once hashing has gone quiet. Each argon2id hash allocates
// its whole memory cost (64 MiB at slapd-style parameters), and Go keeps
// freed memory for a while: after a burst of binds a server measured by
// make bench still held 420 MiB with nothing to do. Returning it during
// a burst would make every next hash fault its memory in afresh (a
// quarter of the bind rate, measured), so this waits for a pause:
// started counts hash slots taken (policy's EventHashWait), and a tick
// that sees it unchanged after a change calls free (debug.FreeOSMemory)
// once.
func returnHashMemory(ctx context.Context, started *atomic.Uint64, every time.Duration, free func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, dirty := started.Load(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := started.Load()
		switch {
		case now != last:
			last, dirty = now, true
		case dirty:
			dirty = false
			free()
		}
	}
}
