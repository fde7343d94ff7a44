//go:build !linux

package widen

import "testing"

// reportThreadCPU runs fn b.N times (no CPU-time metric here).
func reportThreadCPU(b *testing.B, fn func()) {
	for b.Loop() {
		fn()
	}
}
