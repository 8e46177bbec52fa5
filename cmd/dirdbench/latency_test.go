package main

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, d := range []time.Duration{0, 1, 31, 32, 33, 63, 64, 1000, time.Microsecond * 37, time.Millisecond, 3 * time.Millisecond, time.Second, time.Hour} {
		i := bucketOf(d)
		if i < prev {
			t.Errorf("bucket of %v is %d, below the previous %d", d, i, prev)
		}
		prev = i
		if i >= len(histogram{}.n) {
			t.Fatalf("bucket of %v is %d, past the end", d, i)
		}
		v := bucketValue(i)
		if diff := float64(v-d) / float64(max(d, 1)); diff > 1.0/32 || diff < -1.0/32 {
			t.Errorf("%v lands in bucket %d worth %v (%.1f%% off)", d, i, v, 100*diff)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h histogram
	if h.quantile(0.5) != 0 {
		t.Error("an empty histogram has a median")
	}
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, time.Millisecond}} {
		got := h.quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d > 0.04 || d < -0.04 {
			t.Errorf("quantile %v = %v, want about %v", tc.q, got, tc.want)
		}
	}
}

func TestParseStatTicks(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want int64
		ok   bool
	}{
		{"25704 (dird) S 1 25704 25704 0 -1 4194560 6115 0 0 0 1234 567 0 0 20 0 9 0 7841234 1620000000 10000 18446744073709551615", 1801, true},
		{"7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 10 20 0 0 20 0 1 0 1 1 1", 30, true},
		{"7 (dird) S 1 2 3", 0, false},
		{"no parenthesis", 0, false},
		{"7 (dird) S 1 7 7 0 -1 0 0 0 0 0 x 20 0", 0, false},
	} {
		got, err := parseStatTicks([]byte(tc.stat))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseStatTicks(%q) = %d, %v; want %d, ok %v", tc.stat, got, err, tc.want, tc.ok)
		}
	}
}

func TestStatusKiB(t *testing.T) {
	status := []byte("Name:\tdird\nVmPeak:\t 1000 kB\nVmHWM:\t   52224 kB\nVmRSS:\t   40960 kB\n")
	if got := statusKiB(status, "VmHWM:"); got != 52224 {
		t.Errorf("VmHWM %v", got)
	}
	if got := statusKiB(status, "VmRSS:"); got != 40960 {
		t.Errorf("VmRSS %v", got)
	}
	if got := statusKiB(status, "VmSwap:"); got != 0 {
		t.Errorf("VmSwap %v", got)
	}
}
