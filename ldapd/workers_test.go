package ldapd

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestWorkersRunEveryJobAndKeepFewIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := newWorkers(ctx)
	before := runtime.NumGoroutine()

	// 3*maxIdle jobs held at once need that many goroutines...
	const n = 3 * maxIdle
	var started, done sync.WaitGroup
	release := make(chan struct{})
	started.Add(n)
	done.Add(n)
	for range n {
		w.run(func() {
			started.Done()
			<-release
			done.Done()
		})
	}
	started.Wait()
	close(release)
	done.Wait()

	// ...but afterwards at most maxIdle wait for more.
	deadline := time.Now().Add(5 * time.Second)
	for w.idle.Load() != maxIdle || runtime.NumGoroutine() > before+maxIdle {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers, %d goroutines more than before; want %d at most", w.idle.Load(), runtime.NumGoroutine()-before, maxIdle)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A waiting worker takes the next job.
	ran := make(chan struct{})
	w.run(func() { close(ran) })
	<-ran

	// And every worker ends with the server.
	cancel()
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after the context ended", runtime.NumGoroutine()-before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
