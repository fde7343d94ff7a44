//go:build !purego

package simd

// archKernels returns the arm64 implementations the CPU supports, best last.
func archKernels() []*kernels { return nil }
