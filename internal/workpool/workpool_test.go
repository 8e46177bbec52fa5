package workpool

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/dird/dird/internal/deptest"
)

func TestRunsEveryJobAndKeepsFewIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := New(ctx)
	before := runtime.NumGoroutine()

	// 3*MaxIdle jobs held at once need that many goroutines...
	const n = 3 * MaxIdle
	var started, done sync.WaitGroup
	release := make(chan struct{})
	started.Add(n)
	done.Add(n)
	for range n {
		w.Run(func() {
			started.Done()
			<-release
			done.Done()
		})
	}
	started.Wait()
	close(release)
	done.Wait()

	// ...but afterwards at most MaxIdle wait for more.
	deadline := time.Now().Add(5 * time.Second)
	for w.idle.Load() != MaxIdle || runtime.NumGoroutine() > before+MaxIdle {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle workers, %d goroutines more than before; want %d at most", w.idle.Load(), runtime.NumGoroutine()-before, MaxIdle)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A waiting worker takes the next job.
	ran := make(chan struct{})
	w.Run(func() { close(ran) })
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

func TestDeps(t *testing.T) { deptest.AllowOnly(t) }
