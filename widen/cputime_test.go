//go:build linux

package widen

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// reportThreadCPU runs fn b.N times on one locked OS thread and reports
// the thread's CPU time per call as "cpu-ns/op": on a shared machine the
// wall time of a benchmark mostly measures the other processes.
func reportThreadCPU(b *testing.B, fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &before)
	for b.Loop() {
		fn()
	}
	_ = unix.Getrusage(unix.RUSAGE_THREAD, &after)
	ns := func(r unix.Rusage) float64 {
		return float64(r.Utime.Nano() + r.Stime.Nano())
	}
	b.ReportMetric((ns(after)-ns(before))/float64(b.N), "cpu-ns/op")
}
