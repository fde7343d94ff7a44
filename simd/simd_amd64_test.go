//go:build !purego

package simd

import "testing"

// TestStreaming reruns the tests of the kernels with non-temporal stores
// with the threshold lowered so that every length takes the streaming path
// (aligned head, non-temporal body, tail).
func TestStreaming(t *testing.T) {
	defer func(old int) { streamThreshold = old }(streamThreshold)
	streamThreshold = 0
	t.Run("ToF32", TestToF32Exhaustive)
	t.Run("WeightedDeltaSum", TestWeightedDeltaSum)
}
