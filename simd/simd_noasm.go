//go:build (!amd64 && !arm64) || purego

package simd

// archKernels returns no assembly implementations: only generic is used.
func archKernels() []*kernels { return nil }
