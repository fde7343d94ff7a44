//go:build !purego

package tasks

// applyBitsAVX2 is applyBitsGeneric over n entries, n a multiple of 8;
// rows is laneMasks.
//
//go:noescape
func applyBitsAVX2(d *float32, bits *byte, n int, rows *[256][8]uint32)

// applyBits is applyBitsGeneric, in AVX2 where the CPU has it.
func applyBits(d []float32, bits []byte) {
	nv := 0
	if useAVX2 {
		nv = len(d) &^ 7
	}
	if nv > 0 {
		_ = bits[nv/8-1]
		applyBitsAVX2(&d[0], &bits[0], nv, laneMasks)
	}
	if nv < len(d) {
		applyBitsGeneric(d[nv:], bits[nv/8:])
	}
}
