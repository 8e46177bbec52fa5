package main

import (
	"math/bits"
	"time"
)

// histogram is a fixed log-linear latency histogram: 32 linear
// sub-buckets per power of two of nanoseconds (about 3% resolution), so
// a worker records any number of operations in 16 KiB and no allocation.
type histogram struct {
	n     [64 * subBuckets]uint64
	ops   int64 // successful operations
	fails int64
	_     [64]byte // keeps workers' counters on separate cache lines
}

const subBits = 5
const subBuckets = 1 << subBits

func bucketOf(d time.Duration) int {
	ns := uint64(max(d, 0))
	if ns < subBuckets {
		return int(ns)
	}
	shift := bits.Len64(ns) - subBits - 1
	return (shift+1)<<subBits + int(ns>>shift)&(subBuckets-1)
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i)
	}
	shift := i>>subBits - 1
	lo := uint64(subBuckets+i&(subBuckets-1)) << shift
	return time.Duration(lo + (uint64(1)<<shift)/2)
}

func (h *histogram) record(d time.Duration) { h.n[bucketOf(d)]++ }

func (h *histogram) merge(o *histogram) {
	for i, c := range o.n {
		h.n[i] += c
	}
	h.ops += o.ops
	h.fails += o.fails
}

// quantile is the latency below which a fraction q of the recorded
// operations fall.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range h.n {
		total += c
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var seen uint64
	for i, c := range h.n {
		seen += c
		if seen >= rank {
			return bucketValue(i)
		}
	}
	return 0
}
