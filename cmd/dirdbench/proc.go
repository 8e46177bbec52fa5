package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's utime and stime:
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// cpuTicks is the utime+stime of pid (fields 14 and 15 of
// /proc/PID/stat), in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server's CPU time: %w", err)
	}
	return parseStatTicks(b)
}

func parseStatTicks(b []byte) (int64, error) {
	// The command name (field 2) is in parentheses and may hold spaces
	// or parentheses itself: count fields after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc/PID/stat: no ')'")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("parsing /proc/PID/stat: %d fields after the name", len(f))
	}
	// f[0] is field 3 (state), so field 14 is f[11] and 15 is f[12].
	u, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/PID/stat utime %q stime %q", f[11], f[12])
	}
	return u + s, nil
}

// resetPeakRSS makes VmHWM start again from the current RSS. If the
// kernel refuses (another user's process), VmHWM is reported as is.
func resetPeakRSS(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// memOf is VmHWM and VmRSS of pid in MiB (0 when unreadable).
func memOf(pid int) (hwm, rss float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	return statusKiB(b, "VmHWM:") / 1024, statusKiB(b, "VmRSS:") / 1024
}

func statusKiB(b []byte, key string) float64 {
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte(key)); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseFloat(string(f[0]), 64)
				return n
			}
		}
	}
	return 0
}
