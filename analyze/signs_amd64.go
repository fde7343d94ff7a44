//go:build !purego

package analyze

import "golang.org/x/sys/cpu"

var haveSignCountAsm = cpu.X86.HasAVX2

// signCountAsm implements, with AVX2, for n a positive multiple of 8 below
// 2³¹:
//
//	for i := range n {
//		p := x[i] * y[i]
//		if p == 0 { zeros++ } else if math.Signbit(p) { neg++ }
//	}
//
//go:noescape
func signCountAsm(x, y *float32, n int) (zeros, neg int)
