package ldapd

import (
	"context"
	"sync/atomic"
)

// workers runs operations on goroutines that outlive one operation.
// A fresh goroutine per request starts on a small stack and grows it,
// copying, on every request's first deep call (the DN parser, the
// store): a tenth of a search's CPU under load by the profile of
// `make bench`. A worker keeps its grown stack for the next request.
//
// Up to maxIdle workers wait for work; a request that finds none waiting
// gets a new goroutine, which afterwards waits too if there is room, or
// ends. So the pool follows the load without a queue: no request ever
// waits for a worker, and an idle server keeps at most maxIdle of them
// (10,000 idle connections cost no workers at all).
type workers struct {
	ctx  context.Context // workers end when it does
	work chan func()     // unbuffered: a send succeeds only to a waiting worker
	idle atomic.Int32
}

// maxIdle is enough for the concurrency a 2- to 8-core server answers
// at once (every connection's operation in flight) without keeping a
// crowd of stacks.
const maxIdle = 128

func newWorkers(ctx context.Context) *workers {
	return &workers{ctx: ctx, work: make(chan func())}
}

// run runs job on a waiting worker, or on a new goroutine.
func (w *workers) run(job func()) {
	select {
	case w.work <- job:
	default:
		go w.loop(job)
	}
}

func (w *workers) loop(job func()) {
	for {
		job()
		if w.idle.Add(1) > maxIdle {
			w.idle.Add(-1)
			return
		}
		select {
		case job = <-w.work:
			w.idle.Add(-1)
		case <-w.ctx.Done():
			w.idle.Add(-1)
			return
		}
	}
}
