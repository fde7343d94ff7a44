//go:build !amd64 || purego

package tasks

func applyBits(d []float32, bits []byte) { applyBitsGeneric(d, bits) }
