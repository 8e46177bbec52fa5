package main

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// worker is one connection, socket or process slot, made before the
// clock starts and driven by one goroutine.
type worker interface {
	// op runs one operation; ctx ends when the measured part does.
	op(ctx context.Context) error
	close()
}

// Phases of a run, read by every worker before and after each operation.
const (
	phaseWarmup = iota
	phaseMeasure
	phaseStop
)

// firstError keeps the first failure's message.
type firstError struct {
	mu  sync.Mutex
	msg string
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.msg == "" {
		f.msg = err.Error()
	}
	f.mu.Unlock()
}

func (f *firstError) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg
}

// measure brackets the measured part: the generator's CPU (its own, plus
// its children's when they do the work, as eapol_test does) and the
// server's CPU and peak RSS.
type measure struct {
	children bool
	pid      int
	start    time.Time
	cpu0     time.Duration
	ticks0   int64
	srvErr   error
}

func cpuOf(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (m *measure) usage() time.Duration {
	var self, kids syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	d := cpuOf(&self)
	if m.children {
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
		d += cpuOf(&kids)
	}
	return d
}

func (m *measure) begin() {
	if m.pid > 0 {
		resetPeakRSS(m.pid)
		m.ticks0, m.srvErr = cpuTicks(m.pid)
	}
	m.start = time.Now()
	m.cpu0 = m.usage()
}

// end fills the time, CPU and memory fields of r.
func (m *measure) end(r *result) {
	secs := time.Since(m.start).Seconds()
	cpu := m.usage() - m.cpu0
	r.Secs = round(secs, 3)
	r.LoadgenCPUPct = round(100*cpu.Seconds()/secs, 1)
	if m.pid > 0 {
		if t, err := cpuTicks(m.pid); err == nil && m.srvErr == nil {
			r.ServerCPUPct = round(100*float64(t-m.ticks0)/clockTicks/secs, 1)
		}
		hwm, rss := memOf(m.pid)
		r.PeakRSSMiB, r.RSSMiB = round(hwm, 1), round(rss, 1)
	}
}

// runLoad runs c workers: warm-up, then the measured part until -d has
// passed or -n operations are done. An operation counts only if it both
// started and finished inside the measured part; its latency goes into
// the worker's histogram.
func runLoad(o *options, children bool, newWorker func(i int) (worker, error)) (result, error) {
	var (
		phase    atomic.Int32
		count    atomic.Int64
		first    firstError
		setupErr atomic.Int64
		ready    sync.WaitGroup
		done     sync.WaitGroup
		enough   = make(chan struct{})
		once     sync.Once
		start    = make(chan struct{})
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hists := make([]*histogram, o.conc)
	ready.Add(o.conc)
	for i := range o.conc {
		h := new(histogram)
		hists[i] = h
		done.Add(1)
		go func() {
			defer done.Done()
			w, err := newWorker(i)
			ready.Done()
			if err != nil {
				setupErr.Add(1)
				first.set(err)
				return
			}
			defer w.close()
			<-start
			for {
				p := phase.Load()
				if p == phaseStop {
					return
				}
				t0 := time.Now()
				err := w.op(ctx)
				d := time.Since(t0)
				if p != phaseMeasure || phase.Load() != phaseMeasure {
					continue
				}
				// -n is exact: an operation counts only with a slot.
				n := count.Add(1)
				if n > o.maxOps {
					continue
				}
				if n == o.maxOps {
					once.Do(func() { close(enough) })
				}
				if err != nil {
					h.fails++
					first.set(err)
				} else {
					h.ops++
					h.record(d)
				}
			}
		}()
	}
	ready.Wait()
	var res result
	if int(setupErr.Load()) == o.conc {
		close(start)
		done.Wait()
		res.Fails = setupErr.Load()
		res.FirstError = first.get()
		return res, nil
	}
	close(start)
	if o.warmup > 0 {
		time.Sleep(o.warmup)
	}
	m := measure{children: children, pid: o.pid}
	m.begin()
	phase.Store(phaseMeasure)
	timer := time.NewTimer(o.duration)
	select {
	case <-timer.C:
	case <-enough:
		timer.Stop()
	}
	phase.Store(phaseStop)
	m.end(&res)
	cancel()
	done.Wait()
	var all histogram
	for _, h := range hists {
		all.merge(h)
	}
	res.Ops = all.ops
	res.Fails = all.fails + setupErr.Load()
	res.OpsPerS = round(float64(all.ops)/res.Secs, 1)
	res.P50ms = ms(all.quantile(0.50))
	res.P99ms = ms(all.quantile(0.99))
	res.FirstError = first.get()
	if res.Ops == 0 && res.Fails == 0 {
		// Nothing finished inside -d (a server that never answers, or
		// operations longer than -d): that is not a success.
		res.Fails = 1
		res.FirstError = "no operation completed in the measured part (-d " + o.duration.String() + ")"
	}
	return res, nil
}
