package main

import (
	"crypto/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// runHash measures the bare argon2id a bind at those parameters must pay:
// the first half of -d on one goroutine (p50_ms, p99_ms: one hash), the
// second half on GOMAXPROCS goroutines (ops_per_s: the floor for all
// cores, which no server can beat at these parameters).
func runHash(o *options) (result, error) {
	var res result
	salt := make([]byte, 16)
	rand.Read(salt)
	pw := []byte(o.password)
	m, t, p := uint32(o.argonM), uint32(o.argonT), uint8(max(o.argonP, 1))
	hash := func() { argon2.IDKey(pw, salt, t, m, p, 32) }
	hash() // warm-up: page in the first block of memory
	half := o.duration / 2
	var single histogram
	end := time.Now().Add(half)
	for n := 0; n < 3 || time.Now().Before(end); n++ {
		t0 := time.Now()
		hash()
		single.record(time.Since(t0))
		single.ops++
		if single.ops >= o.maxOps {
			break
		}
	}
	res.P50ms = ms(single.quantile(0.5))
	res.P99ms = ms(single.quantile(0.99))

	mm := measure{pid: o.pid}
	var ops, slots atomic.Int64
	var wg sync.WaitGroup
	mm.begin()
	end = mm.start.Add(half)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A slot first, so -n is exact.
			for time.Now().Before(end) && slots.Add(1) <= o.maxOps {
				hash()
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	mm.end(&res)
	res.Ops = ops.Load()
	res.OpsPerS = round(float64(res.Ops)/res.Secs, 1)
	return res, nil
}
