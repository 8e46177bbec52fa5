package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestReturnHashMemoryWaitsForAPause: memory goes back once after a burst
// of hashes has stopped, never while hashes keep starting, and not again
// while nothing happens.
func TestReturnHashMemoryWaitsForAPause(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var started atomic.Uint64
	var freed atomic.Int32
	const tick = 50 * time.Millisecond
	go returnHashMemory(ctx, &started, tick, func() { freed.Add(1) })

	// A burst: hashes start at every tick for a while.
	for range 40 {
		started.Add(1)
		time.Sleep(tick / 10)
	}
	if n := freed.Load(); n != 0 {
		t.Fatalf("memory returned %d times during the burst", n)
	}
	// The pause: one return, then none while idle.
	deadline := time.Now().Add(2 * time.Second)
	for freed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(tick)
	}
	time.Sleep(10 * tick)
	if n := freed.Load(); n != 1 {
		t.Fatalf("memory returned %d times after the burst, want once", n)
	}
	// The next burst earns the next return.
	started.Add(1)
	deadline = time.Now().Add(2 * time.Second)
	for freed.Load() == 1 && time.Now().Before(deadline) {
		time.Sleep(tick)
	}
	if n := freed.Load(); n != 2 {
		t.Fatalf("after a second burst: %d returns, want 2", n)
	}
}
