//go:build !purego

package simd

// archKernels returns the amd64 implementations the CPU supports, best last.
func archKernels() []*kernels { return nil }
