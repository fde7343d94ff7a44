package simd

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
)

// forEachImpl runs f on every registered implementation.
func forEachImpl(t *testing.T, f func(t *testing.T, k *kernels)) {
	for _, k := range registry {
		t.Run(k.level, func(t *testing.T) { f(t, k) })
	}
}

// testLens covers 0, 1, the vector widths ±1 and a few odd sizes.
var testLens = []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33,
	47, 48, 49, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 1003, 4099}

// largeLen is the large odd length of the elementwise and reduction
// tests: 1000003, or 100003 with -short (used under emulation).
func largeLen() int {
	if testing.Short() {
		return 100003
	}
	return 1000003
}

const guard = 37 // guard elements on each side of a padded slice

// padded returns a slice of n elements at offset off inside a buffer whose
// guard regions hold sentinel, and a check function reporting whether the
// guards are intact.
func padded[T comparable](n, off int, sentinel T) ([]T, func(t *testing.T)) {
	buf := make([]T, guard+off+n+guard)
	for i := range buf {
		buf[i] = sentinel
	}
	s := buf[guard+off : guard+off+n : guard+off+n]
	return s, func(t *testing.T) {
		t.Helper()
		for i := 0; i < guard+off; i++ {
			if buf[i] != sentinel {
				t.Fatalf("guard before dst overwritten at %d", i-guard-off)
			}
		}
		for i := guard + off + n; i < len(buf); i++ {
			if buf[i] != sentinel {
				t.Fatalf("guard after dst overwritten at len+%d", i-guard-off-n)
			}
		}
	}
}

// offsetCopy returns a copy of src starting at element offset off of a fresh
// buffer, so kernels see unaligned inputs.
func offsetCopy[T any](src []T, off int) []T {
	buf := make([]T, off+len(src)+3)
	s := buf[off : off+len(src) : off+len(src)]
	copy(s, src)
	return s
}

// Special float32 values: NaNs of both signs (quiet and signalling, various
// payloads), infinities, zeros, subnormals of float32, float16 and bfloat16
// ranges, extremes and rounding-boundary cases.
var specialF32Bits = []uint32{
	0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa00000, 0xffbfffff,
	0x7f812345, 0x7fffffff, 0xffffffff, 0x7f80ffff, 0x7f808000, 0x7f800100,
	0x7f800000, 0xff800000, 0x00000000, 0x80000000,
	0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00400000, 0x00008000, 0x00018000, 0x00010000,
	0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f7f7fff, 0x7f7f0000,
	0x3f800000, 0xbf800000, 0x3f808000, 0x3f818000, 0x3f80ffff, 0x3f808001, 0x3f807fff,
	0x477fe000, 0x477fefff, 0x477ff000, 0xc77ff000, 0x477ff001, 0x47800000, // f16 max / overflow
	0x38800000, 0x387fffff, 0x387fe000, 0x38000000, 0x33800000, 0x33000000, 0x33000001, 0x32ffffff,
	0x33c00000, 0x34000000, 0x34200000, 0x34400000, 0x35000000, 0x37000000, 0x38004000,
	0x38002000, 0x38006000, 0x38000001,
}

// randF32 returns n float32 values mixing specials, float32 bit patterns
// with random exponents and ordinary values.
func randF32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(8) {
		case 0:
			x[i] = math.Float32frombits(specialF32Bits[r.IntN(len(specialF32Bits))])
		case 1:
			x[i] = math.Float32frombits(r.Uint32())
		case 2: // small exponents: f16 subnormal range and around
			x[i] = math.Float32frombits(r.Uint32()&0x80ffffff | uint32(100+r.IntN(20))<<23)
		case 3: // rounding ties for bf16 and f16
			b := r.Uint32()&0xbfff0000 | 0x8000
			if r.IntN(2) == 0 {
				b = r.Uint32()&0x87ffe000 | 0x00001000 | uint32(103+r.IntN(40))<<23
			}
			x[i] = math.Float32frombits(b)
		default:
			x[i] = float32(r.NormFloat64())
		}
	}
	return x
}

// finiteF32 returns n ordinary float32 values.
func finiteF32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

func sameBits32(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

func sameF64(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || a != a && b != b
}

// checkF32 compares bit patterns exactly, except that for arithmetic
// kernels (anyNaN) any NaN matches any NaN: which NaN operand's payload an
// operation propagates differs between instruction sets.
func checkF32(t *testing.T, what string, got, want []float32) {
	t.Helper()
	checkF32NaN(t, what, got, want, false)
}

func checkArith(t *testing.T, what string, got, want []float32) {
	t.Helper()
	checkF32NaN(t, what, got, want, true)
}

func checkF32NaN(t *testing.T, what string, got, want []float32, anyNaN bool) {
	t.Helper()
	for i := range want {
		if !sameBits32(got[i], want[i]) && !(anyNaN && got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: [%d] = %#08x (%v), want %#08x (%v)", what, i,
				math.Float32bits(got[i]), got[i], math.Float32bits(want[i]), want[i])
		}
	}
}

func checkU16(t *testing.T, what string, got, want []uint16, src []float32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: [%d] = %#04x, want %#04x (src %#08x)", what, i, got[i], want[i], math.Float32bits(src[i]))
		}
	}
}

const sentinelF32 = float32(-12345.678)

func TestToF32Exhaustive(t *testing.T) {
	src := make([]uint16, 65536)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, c := range []struct {
		name string
		ref  func([]float32, []uint16)
		get  func(*kernels) func([]float32, []uint16)
	}{
		{"BF16ToF32", refBF16ToF32, func(k *kernels) func([]float32, []uint16) { return k.bf16ToF32 }},
		{"F16ToF32", refF16ToF32, func(k *kernels) func([]float32, []uint16) { return k.f16ToF32 }},
	} {
		want := make([]float32, len(src))
		c.ref(want, src)
		forEachImpl(t, func(t *testing.T, k *kernels) {
			for _, off := range []int{0, 1, 2, 3} {
				dst, check := padded(len(src), off, sentinelF32)
				c.get(k)(dst, offsetCopy(src, off))
				checkF32(t, c.name, dst, want)
				check(t)
			}
		})
	}
}

// TestRefF16ToF32 checks the reference against the definition of binary16.
func TestRefF16ToF32(t *testing.T) {
	for i := range 65536 {
		h := uint16(i)
		got := f16ToF32(h)
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		e, m := int(h>>10)&0x1f, float64(h&0x3ff)
		var want float64
		switch {
		case e == 31 && m == 0:
			want = math.Inf(int(sign))
		case e == 31:
			b := math.Float32bits(got)
			if got == got || b>>31 != uint32(h>>15) || b&0x400000 == 0 || (b>>13)&0x1ff != uint32(h&0x1ff) {
				t.Fatalf("f16ToF32(%#04x) = %#08x, want quiet NaN with same sign and payload", h, b)
			}
			continue
		case e == 0:
			want = sign * math.Ldexp(m, -24)
		default:
			want = sign * math.Ldexp(1024+m, e-25)
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign < 0) {
			t.Fatalf("f16ToF32(%#04x) = %v, want %v", h, got, want)
		}
	}
	for i := range 65536 {
		h := uint16(i)
		got := math.Float32bits(bf16ToF32(h))
		want := uint32(h) << 16
		if h&0x7fff > 0x7f80 {
			want |= 0x400000
		}
		if got != want {
			t.Fatalf("bf16ToF32(%#04x) = %#08x, want %#08x", h, got, want)
		}
	}
}

// nearest checks that r, the result of rounding f with the format decoded by
// dec, is the nearest representable value, ties to even, for finite f.
func checkNearest(t *testing.T, name string, f float32, r uint16, dec func(uint16) float32, maxFinite uint16) {
	t.Helper()
	if f != f {
		if got := dec(r); got == got || math.Signbit(float64(got)) != math.Signbit(float64(f)) {
			t.Fatalf("%s(%#08x) = %#04x, want NaN of same sign", name, math.Float32bits(f), r)
		}
		if math.Float32bits(dec(r))&0x400000 == 0 {
			t.Fatalf("%s(%#08x) = %#04x, not a quiet NaN", name, math.Float32bits(f), r)
		}
		return
	}
	x := float64(f)
	v := float64(dec(r))
	if math.Signbit(v) != math.Signbit(x) {
		t.Fatalf("%s(%v) = %#04x: sign lost", name, f, r)
	}
	a := math.Abs(x)
	mag := r & 0x7fff
	if math.IsInf(v, 0) {
		// Must be at least halfway between max finite and the next power.
		mf := float64(dec(maxFinite))
		up := float64(dec(maxFinite - 1))
		half := mf + (mf-up)/2
		if a < half || a == half && maxFinite&1 == 0 {
			t.Fatalf("%s(%v) = Inf, want finite", name, f)
		}
		return
	}
	d := math.Abs(math.Abs(v) - a)
	for _, nb := range []uint16{mag - 1, mag + 1} {
		if nb > maxFinite || mag == 0 && nb == 0xffff {
			continue
		}
		dn := math.Abs(float64(dec(nb)) - a)
		if dn < d || dn == d && mag&1 == 1 {
			t.Fatalf("%s(%v) = %#04x (%v), but %#04x (%v) is nearer or even", name, f, r, v, nb, dec(nb))
		}
	}
}

func TestRefFromF32(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	xs := randF32(r, 1<<18)
	for _, b := range specialF32Bits {
		xs = append(xs, math.Float32frombits(b))
	}
	for _, f := range xs {
		checkNearest(t, "f32ToBF16", f, f32ToBF16(f), bf16ToF32, 0x7f7f)
		checkNearest(t, "f32ToF16", f, f32ToF16(f), f16ToF32, 0x7bff)
	}
	// Every bf16/f16 value converts back to itself (NaNs: quietened).
	for i := range 65536 {
		h := uint16(i)
		if got := f32ToBF16(bf16ToF32(h)); got != h && !(h&0x7fff > 0x7f80 && got == h|0x40) {
			t.Fatalf("bf16 round trip %#04x -> %#04x", h, got)
		}
		if got := f32ToF16(f16ToF32(h)); got != h && !(h&0x7fff > 0x7c00 && got == h|0x200) {
			t.Fatalf("f16 round trip %#04x -> %#04x", h, got)
		}
	}
}

func TestFromF32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	big := randF32(r, 1<<20)
	for _, b := range specialF32Bits {
		big = append(big, math.Float32frombits(b))
	}
	for _, c := range []struct {
		name string
		ref  func([]uint16, []float32)
		get  func(*kernels) func([]uint16, []float32)
	}{
		{"F32ToBF16", refF32ToBF16, func(k *kernels) func([]uint16, []float32) { return k.f32ToBF16 }},
		{"F32ToF16", refF32ToF16, func(k *kernels) func([]uint16, []float32) { return k.f32ToF16 }},
	} {
		forEachImpl(t, func(t *testing.T, k *kernels) {
			f := c.get(k)
			for _, n := range append(testLens, len(big)) {
				for _, off := range []int{0, 1, 2, 3} {
					src := offsetCopy(big[len(big)-n:], off)
					want := make([]uint16, n)
					c.ref(want, src)
					dst, check := padded(n, off, uint16(0xdead))
					f(dst, src)
					checkU16(t, fmt.Sprintf("%s n=%d off=%d", c.name, n, off), dst, want, src)
					check(t)
					if n > 5000 {
						break
					}
				}
			}
		})
	}
}

// binaryCase runs an elementwise kernel of the form f(dst, x, y) against its
// reference over lengths, offsets and special values.
func TestElementwise(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	type kern = func(dst, x, y []float32)
	cases := []struct {
		name string
		ref  kern
		get  func(*kernels) kern
	}{
		{"Sub", refSub, func(k *kernels) kern { return k.sub }},
		{"Add", refAdd, func(k *kernels) kern { return k.add }},
		{"Mul", refMul, func(k *kernels) kern { return k.mul }},
		{"AddScaled", func(dst, x, y []float32) { copy(dst, x); refAddScaled(dst, 0.3, y) },
			func(k *kernels) kern { return func(dst, x, y []float32) { copy(dst, x); k.addScaled(dst, 0.3, y) } }},
		{"AddScaledNeg", func(dst, x, y []float32) { copy(dst, x); refAddScaled(dst, -1.7e-3, y) },
			func(k *kernels) kern { return func(dst, x, y []float32) { copy(dst, x); k.addScaled(dst, -1.7e-3, y) } }},
		{"Scale", func(dst, x, y []float32) { copy(dst, x); refScale(dst, 1.1) },
			func(k *kernels) kern { return func(dst, x, y []float32) { copy(dst, x); k.scale(dst, 1.1) } }},
		{"Exp", func(dst, x, y []float32) { refExp(dst, x) }, func(k *kernels) kern { return func(dst, x, y []float32) { k.exp(dst, x) } }},
		{"Tanh", func(dst, x, y []float32) { refTanh(dst, x) }, func(k *kernels) kern { return func(dst, x, y []float32) { k.tanh(dst, x) } }},
	}
	lens := append(testLens, largeLen())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, k *kernels) {
				f := c.get(k)
				for _, n := range lens {
					x, y := randF32(r, n), randF32(r, n)
					if n%2 == 1 {
						x, y = finiteF32(r, n), finiteF32(r, n)
					}
					want := make([]float32, n)
					c.ref(want, x, y)
					for _, off := range []int{0, 1, 2, 3} {
						dst, check := padded(n, off, sentinelF32)
						f(dst, offsetCopy(x, (off+1)%4), offsetCopy(y, (off+2)%4))
						checkArith(t, fmt.Sprintf("n=%d off=%d", n, off), dst, want)
						check(t)
						if n > 5000 {
							break
						}
					}
				}
			})
		})
	}
}

func TestWeightedDeltaSum(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	forEachImpl(t, func(t *testing.T, k *kernels) {
		for _, K := range []int{0, 1, 2, 3, 5} {
			for _, n := range append(testLens, 100003) {
				w := finiteF32(r, K)
				base := randF32(r, n)
				if n%3 == 0 {
					base = finiteF32(r, n)
				}
				xs := make([][]float32, K)
				xh := make([][]uint16, K)
				for j := range xs {
					xs[j] = randF32(r, n)
					xh[j] = make([]uint16, n)
					refF32ToBF16(xh[j], xs[j])
				}
				bh := make([]uint16, n)
				refF32ToBF16(bh, base)
				want := make([]float32, n)
				refWeightedDeltaSum(want, base, xs, w)

				// bf16: reference is convert-then-sum.
				bf := make([]float32, n)
				refBF16ToF32(bf, bh)
				xf := make([][]float32, K)
				for j := range xf {
					xf[j] = make([]float32, n)
					refBF16ToF32(xf[j], xh[j])
				}
				wantH := make([]float32, n)
				refWeightedDeltaSum(wantH, bf, xf, w)

				// f16: the same bit patterns read as binary16.
				ff := make([]float32, n)
				refF16ToF32(ff, bh)
				xff := make([][]float32, K)
				for j := range xff {
					xff[j] = make([]float32, n)
					refF16ToF32(xff[j], xh[j])
				}
				wantF := make([]float32, n)
				refWeightedDeltaSum(wantF, ff, xff, w)

				for _, off := range []int{0, 1, 3} {
					name := fmt.Sprintf("K=%d n=%d off=%d", K, n, off)
					xo := make([][]float32, K)
					xho := make([][]uint16, K)
					for j := range xo {
						xo[j] = offsetCopy(xs[j], (off+j)%4)
						xho[j] = offsetCopy(xh[j], (off+j+1)%4)
					}
					dst, check := padded(n, off, sentinelF32)
					k.weightedDeltaSum(dst, offsetCopy(base, (off+2)%4), xo, w)
					checkArith(t, "WeightedDeltaSum "+name, dst, want)
					check(t)
					// In place: dst == base.
					in := offsetCopy(base, off)
					k.weightedDeltaSum(in, in, xo, w)
					checkArith(t, "WeightedDeltaSum in place "+name, in, want)

					dst, check = padded(n, off, sentinelF32)
					k.weightedDeltaSumBF16(dst, offsetCopy(bh, (off+3)%4), xho, w)
					checkArith(t, "WeightedDeltaSumBF16 "+name, dst, wantH)
					check(t)

					dst, check = padded(n, off, sentinelF32)
					k.weightedDeltaSumF16(dst, offsetCopy(bh, (off+3)%4), xho, w)
					checkArith(t, "WeightedDeltaSumF16 "+name, dst, wantF)
					check(t)
					if n > 5000 {
						break
					}
				}
			}
		}
	})
}

func TestRefWeightedDeltaSum(t *testing.T) {
	dst := make([]float32, 2)
	refWeightedDeltaSum(dst, []float32{1, 2}, [][]float32{{3, 2}, {0, 6}}, []float32{0.5, 0.25})
	// 1 + 0.5*2 + 0.25*(-1) = 1.75; 2 + 0 + 0.25*4 = 3
	if dst[0] != 1.75 || dst[1] != 3 {
		t.Fatalf("got %v", dst)
	}
}

func TestReductions(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	type red = func(x, y []float32) float64
	cases := []struct {
		name string
		ref  red
		get  func(*kernels) red
	}{
		{"Sum", func(x, _ []float32) float64 { return refSum(x) }, func(k *kernels) red { return func(x, _ []float32) float64 { return k.sum(x) } }},
		{"SumSquares", func(x, _ []float32) float64 { return refSumSquares(x) }, func(k *kernels) red { return func(x, _ []float32) float64 { return k.sumSquares(x) } }},
		{"SumAbs", func(x, _ []float32) float64 { return refSumAbs(x) }, func(k *kernels) red { return func(x, _ []float32) float64 { return k.sumAbs(x) } }},
		{"Dot", refDot, func(k *kernels) red { return k.dot }},
		{"MaxAbs", func(x, _ []float32) float64 { return float64(refMaxAbs(x)) }, func(k *kernels) red { return func(x, _ []float32) float64 { return float64(k.maxAbs(x)) } }},
		{"CountAbsGE", func(x, _ []float32) float64 { return float64(refCountAbsGE(x, 0.7)) }, func(k *kernels) red { return func(x, _ []float32) float64 { return float64(k.countAbsGE(x, 0.7)) } }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, k *kernels) {
				f := c.get(k)
				for _, n := range append(testLens, largeLen()) {
					for _, special := range []bool{false, true} {
						x, y := finiteF32(r, n), finiteF32(r, n)
						if special {
							x, y = randF32(r, n), randF32(r, n)
							if n > 1000 { // keep the sum finite and meaningful
								for i := range x {
									if !(math.Abs(float64(x[i])) < 1e30) {
										x[i] = float32(i)
									}
								}
							}
						}
						want := c.ref(x, y)
						for _, off := range []int{0, 1, 2, 3} {
							got := f(offsetCopy(x, off), offsetCopy(y, (off+1)%4))
							if !sameF64(got, want) && !(c.name == "MaxAbs" && got != got && want != want) {
								t.Fatalf("n=%d off=%d special=%v: got %v (%#x), want %v (%#x)", n, off, special,
									got, math.Float64bits(got), want, math.Float64bits(want))
							}
							if n > 5000 {
								break
							}
						}
					}
				}
			})
		})
	}
}

func TestRefReductions(t *testing.T) {
	x := make([]float32, 1001)
	var s, ss, sa float64
	for i := range x {
		x[i] = float32(i%7) - 3
		s += float64(x[i])
		ss += float64(x[i]) * float64(x[i])
		sa += math.Abs(float64(x[i]))
	}
	if refSum(x) != s || refSumSquares(x) != ss || refSumAbs(x) != sa || refDot(x, x) != ss {
		t.Fatalf("sums %v %v %v %v, want %v %v %v", refSum(x), refSumSquares(x), refSumAbs(x), refDot(x, x), s, ss, sa)
	}
	// The fixed order is observable: 1e20 + 1 - 1e20 loses the 1 only in
	// the same lane.
	y := make([]float32, 32)
	y[0], y[1], y[16] = 1e20, 1, -1e20
	if refSum(y) != 1 {
		t.Fatalf("lane order: got %v, want 1", refSum(y))
	}
	if got := refMaxAbs([]float32{1, -3, 2}); got != 3 {
		t.Fatalf("MaxAbs = %v", got)
	}
	if got := refMaxAbs([]float32{1, float32(math.NaN()), 2}); got == got {
		t.Fatalf("MaxAbs with NaN = %v, want NaN", got)
	}
	if got := refMaxAbs(nil); got != 0 {
		t.Fatalf("MaxAbs(nil) = %v", got)
	}
	if got := refCountAbsGE([]float32{-2, 1, 0.5, float32(math.NaN()), 1.5}, 1); got != 3 {
		t.Fatalf("CountAbsGE = %d, want 3", got)
	}
}

func TestHist(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{0, 1, 7, 8, 9, 17, 1003, 100003} {
		x := randF32(r, n)
		for i := range x { // concentrate some values on one prefix
			if i%3 == 0 {
				x[i] = math.Float32frombits(0x3f80<<16 | r.Uint32()&0xffff | r.Uint32()&0x80000000)
			}
		}
		want := make([]uint64, 65536)
		wantL := make([]uint64, 65536)
		refHistAbsHigh16(want, x)
		refHistAbsLow16(wantL, x, 0x3f80)
		var tot uint64
		for _, c := range want {
			tot += c
		}
		if tot != uint64(n) {
			t.Fatalf("ref high histogram holds %d, want %d", tot, n)
		}
		if n > 0 && want[0x3f80] != wantL[0]+func() (s uint64) {
			for _, c := range wantL[1:] {
				s += c
			}
			return
		}() {
			t.Fatalf("ref low histogram does not add up to the high bucket")
		}
		forEachImpl(t, func(t *testing.T, k *kernels) {
			for _, off := range []int{0, 3} {
				got := make([]uint64, 65536)
				got[5] = 7 // counts are added
				gotL := make([]uint64, 65536)
				gotL[5] = 7
				xo := offsetCopy(x, off)
				k.histAbsHigh16(got, xo)
				k.histAbsLow16(gotL, xo, 0x3f80)
				got[5] -= 7
				gotL[5] -= 7
				for i := range want {
					if got[i] != want[i] || gotL[i] != wantL[i] {
						t.Fatalf("n=%d bucket %#x: high %d want %d, low %d want %d", n, i, got[i], want[i], gotL[i], wantL[i])
					}
				}
			}
		})
	}
}

// naiveTIESElect is the per-element definition of TIESElect, written
// directly from its doc comment; the (blocked, branch-free) reference must
// agree with it.
func naiveTIESElect(mixed, div []float32, d [][]float32, w []float32) {
	for i := range mixed {
		var sum float32
		for _, row := range d {
			sum += row[i]
		}
		var m, dv float32
		for k, row := range d {
			if v := row[i]; sum >= 0 && v > 0 || !(sum >= 0) && v < 0 {
				m += v
				dv += w[k]
			}
		}
		mixed[i], div[i] = m, dv
	}
}

func TestTIESElect(t *testing.T) {
	// Worked example.
	d := [][]float32{{1, -2, 0, 3}, {-3, -1, 0, -3}, {0.5, 4, 0, 0}}
	w := []float32{1, 2, 4}
	mixed, div := make([]float32, 4), make([]float32, 4)
	refTIESElect(mixed, div, d, w)
	wantM := []float32{-3, 4, 0, 3}
	wantD := []float32{2, 4, 0, 1}
	for i := range wantM {
		if mixed[i] != wantM[i] || div[i] != wantD[i] {
			t.Fatalf("ref: mixed %v div %v, want %v %v", mixed, div, wantM, wantD)
		}
	}
	r := rand.New(rand.NewPCG(13, 14))
	forEachImpl(t, func(t *testing.T, k *kernels) {
		for _, K := range []int{0, 1, 2, 3, 6} {
			for _, n := range append(testLens, 1500) {
				w := finiteF32(r, K)
				d := make([][]float32, K)
				for j := range d {
					d[j] = finiteF32(r, n)
					if n%2 == 0 {
						d[j] = randF32(r, n)
					}
					for i := range d[j] {
						switch r.IntN(5) {
						case 0:
							d[j][i] = 0
						case 1:
							d[j][i] = -d[j][i]
						}
					}
				}
				wm, wd := make([]float32, n), make([]float32, n)
				naiveTIESElect(wm, wd, d, w)
				for _, off := range []int{0, 1, 3} {
					gm, cm := padded(n, off, sentinelF32)
					gd, cd := padded(n, (off+1)%4, sentinelF32)
					do := make([][]float32, K)
					for j := range do {
						do[j] = offsetCopy(d[j], (off+j)%4)
					}
					k.tiesElect(gm, gd, do, w)
					checkArith(t, "mixed", gm, wm)
					checkArith(t, "div", gd, wd)
					cm(t)
					cd(t)
				}
			}
		}
	})
}

// ulpDiff returns the distance in units in the last place between a and b
// (NaN only matches NaN).
func ulpDiff(a, b float32) uint32 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxUint32
	}
	ord := func(f float32) int64 {
		u := math.Float32bits(f)
		if u&0x80000000 != 0 {
			return -int64(u & 0x7fffffff)
		}
		return int64(u)
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return uint32(min(d, math.MaxUint32))
}

// TestTranscendentalAccuracy sweeps float32 bit patterns densely (every
// step-th pattern of the whole range, plus all specials) and checks Exp and
// Tanh against float32(math.Exp/Tanh) with a bound of 1 ulp.
func TestTranscendentalAccuracy(t *testing.T) {
	step := uint32(509)
	if testing.Short() {
		step = 4093
	}
	var xs []float32
	for b := uint64(0); b < 1<<32; b += uint64(step) {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	for _, b := range specialF32Bits {
		xs = append(xs, math.Float32frombits(b))
	}
	// Every pattern around the overflow and underflow thresholds of Exp.
	for _, c := range []float32{88.72283, -87.33655, -103.27893, -103.972084} {
		b := math.Float32bits(c)
		for d := uint32(0); d < 4096; d++ {
			xs = append(xs, math.Float32frombits(b-2048+d))
		}
	}
	gotE, gotT := make([]float32, len(xs)), make([]float32, len(xs))
	refExp(gotE, xs)
	refTanh(gotT, xs)
	var worstE, worstT uint32
	for i, x := range xs {
		we := float32(math.Exp(float64(x)))
		wt := float32(math.Tanh(float64(x)))
		if d := ulpDiff(gotE[i], we); d > worstE {
			worstE = d
			if d > 1 {
				t.Errorf("Exp(%v [%#08x]) = %v, want %v (%d ulp)", x, math.Float32bits(x), gotE[i], we, d)
			}
		}
		if d := ulpDiff(gotT[i], wt); d > worstT {
			worstT = d
			if d > 1 {
				t.Errorf("Tanh(%v [%#08x]) = %v, want %v (%d ulp)", x, math.Float32bits(x), gotT[i], wt, d)
			}
		}
		if x == 0 && !sameBits32(gotT[i], x) {
			t.Errorf("Tanh(%v) = %v: sign of zero lost", x, gotT[i])
		}
	}
	t.Logf("%d inputs: Exp worst %d ulp, Tanh worst %d ulp", len(xs), worstE, worstT)

	// Every implementation returns the reference's bits on the whole sweep.
	forEachImpl(t, func(t *testing.T, k *kernels) {
		got := make([]float32, len(xs))
		k.exp(got, xs)
		checkF32(t, "Exp sweep", got, gotE)
		k.tanh(got, xs)
		checkF32(t, "Tanh sweep", got, gotT)
	})
}

func TestLengthMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on length mismatch")
		}
	}()
	BF16ToF32(make([]float32, 3), make([]uint16, 2))
}

func TestChoose(t *testing.T) {
	best := registry[len(registry)-1]
	if got := choose(registry, ""); got != best {
		t.Errorf("choose(\"\") = %s, want %s", got.level, best.level)
	}
	if got := choose(registry, "generic"); got != &genericKernels {
		t.Errorf("choose(generic) = %s", got.level)
	}
	if got := choose(registry, "no-such-level"); got != best {
		t.Errorf("choose(unknown) = %s, want %s", got.level, best.level)
	}
	for _, k := range registry {
		if got := choose(registry, k.level); got != k {
			t.Errorf("choose(%s) = %s", k.level, got.level)
		}
	}
	if Level() == "" {
		t.Error("empty Level")
	}
	t.Logf("registered: %v, in use: %s", Implementations(), Level())
}

// TestLevelEnv runs the test binary again with GOMERGE_SIMD set to each
// registered level (and to an unknown one) and checks the level in use.
func TestLevelEnv(t *testing.T) {
	if want := os.Getenv("GOMERGE_SIMD_WANT"); want != "" {
		if Level() != want {
			t.Fatalf("GOMERGE_SIMD=%q: Level() = %q, want %q", os.Getenv("GOMERGE_SIMD"), Level(), want)
		}
		return
	}
	if testing.Short() {
		t.Skip("spawns test binaries")
	}
	best := registry[len(registry)-1].level
	cases := map[string]string{"": best, "no-such-level": best, "avx512x": best}
	for _, k := range registry {
		cases[k.level] = k.level
	}
	for env, want := range cases {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLevelEnv$")
		cmd.Env = append(os.Environ(), "GOMERGE_SIMD="+env, "GOMERGE_SIMD_WANT="+want)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			// The binary could not start at all: under qemu-user
			// without binfmt_misc it cannot re-execute itself.
			t.Skipf("cannot re-execute the test binary: %v", err)
		}
		if err != nil {
			t.Errorf("GOMERGE_SIMD=%q: %v\n%s", env, err, out)
		}
	}
}

// TestInPlace checks the elementwise kernels with dst equal to an input,
// as callers write Add(x, x, y) or Exp(x, x).
func TestInPlace(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	forEachImpl(t, func(t *testing.T, k *kernels) {
		for _, n := range []int{1, 7, 8, 9, 31, 33, 64, 1003} {
			x, y := randF32(r, n), randF32(r, n)
			c := func(s []float32) []float32 { return append([]float32(nil), s...) }
			for _, f := range []struct {
				name string
				k    func(dst, x, y []float32)
				ref  func(dst, x, y []float32)
			}{
				{"Sub", k.sub, refSub}, {"Add", k.add, refAdd}, {"Mul", k.mul, refMul},
			} {
				want := make([]float32, n)
				f.ref(want, x, y)
				got := c(x)
				f.k(got, got, y)
				checkArith(t, f.name+" dst=x", got, want)
				got = c(y)
				f.k(got, x, got)
				checkArith(t, f.name+" dst=y", got, want)
			}
			for _, f := range []struct {
				name   string
				k, ref func(dst, x []float32)
			}{{"Exp", k.exp, refExp}, {"Tanh", k.tanh, refTanh}} {
				want := make([]float32, n)
				f.ref(want, x)
				got := c(x)
				f.k(got, got)
				checkF32(t, f.name+" in place", got, want)
			}
			want := c(x)
			refAddScaled(want, 0.7, c(x))
			got := c(x)
			k.addScaled(got, 0.7, got)
			checkArith(t, "AddScaled dst=x", got, want)
		}
	})
}
