// Package workpool runs the fronts' requests on goroutines that outlive
// one request. A fresh goroutine per request starts on a small stack and
// grows it, copying, on every request's first deep call (the DN parser,
// the store, the audit log): a tenth of an LDAP search's CPU and a fifth
// of a RADIUS PAP request's under load, by the profiles of `make bench`.
// A worker keeps its grown stack for the next request.
//
// Up to MaxIdle workers wait for work; a request that finds none waiting
// gets a new goroutine, which afterwards waits too if there is room, or
// ends. So the pool follows the load without a queue: no request ever
// waits for a worker (the fronts keep their own bounds on requests in
// flight), and an idle server keeps at most MaxIdle of them.
//
// It imports nothing of dird's: ldapd and radiusd both use it, and it
// knows nothing of either.
package workpool

import (
	"context"
	"sync/atomic"
)

// Pool is a set of reusable goroutines.
type Pool struct {
	ctx  context.Context // workers end when it does
	work chan func()     // unbuffered: a send succeeds only to a waiting worker
	idle atomic.Int32
}

// MaxIdle is enough for the concurrency a 2- to 8-core server answers
// at once without keeping a crowd of stacks.
const MaxIdle = 128

// New returns a pool whose workers end when ctx does.
func New(ctx context.Context) *Pool {
	return &Pool{ctx: ctx, work: make(chan func())}
}

// Run runs job on a waiting worker, or on a new goroutine. job must
// recover its own panics: a worker that panics ends the process like any
// goroutine.
func (w *Pool) Run(job func()) {
	select {
	case w.work <- job:
	default:
		go w.loop(job)
	}
}

func (w *Pool) loop(job func()) {
	for {
		job()
		if w.idle.Add(1) > MaxIdle {
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
