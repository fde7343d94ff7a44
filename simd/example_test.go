package simd_test

import (
	"fmt"

	"github.com/gomerge/gomerge/simd"
)

// A task-arithmetic merge of two fine-tunes into a base, reading bfloat16
// directly.
func ExampleWeightedDeltaSumBF16() {
	base := make([]uint16, 4)
	a := make([]uint16, 4)
	b := make([]uint16, 4)
	simd.F32ToBF16(base, []float32{1, 2, 3, 4})
	simd.F32ToBF16(a, []float32{2, 2, 2, 2})
	simd.F32ToBF16(b, []float32{1, 4, 3, 0})

	dst := make([]float32, 4)
	simd.WeightedDeltaSumBF16(dst, base, [][]uint16{a, b}, []float32{0.5, 0.25})
	fmt.Println(dst)
	// Output: [1.5 2.5 2.5 2]
}

func ExampleF32ToBF16() {
	h := make([]uint16, 3)
	simd.F32ToBF16(h, []float32{1, 1.00390625, 1.01171875}) // exact, tie to even (down), tie to even (up)
	fmt.Printf("%#04x\n", h)
	// Output: [0x3f80 0x3f80 0x3f82]
}

func ExampleSum() {
	fmt.Println(simd.Sum([]float32{1, 2, 3, 4.5}))
	// Output: 10.5
}
