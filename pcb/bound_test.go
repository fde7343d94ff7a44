package pcb

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/gomerge/gomerge/simd"
)

// boundData returns τ and Σ_j τ_j of LLM-like scale with special values
// mixed in (when special), of length size.
func boundData(r *rand.Rand, size int, special bool) (tau, sum []float32) {
	sp := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(1), math.Float32frombits(0x80000007),
		1e-30, 2e-2, 5e-3, 1, 3, 1e19}
	bad := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0xffc00001)}
	tau, sum = make([]float32, size), make([]float32, size)
	for i := range tau {
		tau[i] = float32(r.NormFloat64() * 1e-2)
		sum[i] = tau[i] + float32(r.NormFloat64()*2e-2)
		if special && r.IntN(16) == 0 {
			tau[i] = sp[r.IntN(len(sp))]
		}
		if special && r.IntN(16) == 0 {
			sum[i] = sp[r.IntN(len(sp))]
		}
		if special && r.IntN(400) == 0 {
			tau[i] = bad[r.IntN(len(bad))]
		}
	}
	return tau, sum
}

var boundStats = []taskStats{{lo: 1e-3, hi: 2e-2}, {lo: 0, hi: 3e-2}, {lo: 1e-2, hi: 1e-2}, {lo: 2e-4, hi: 5}}

// TestBoundCompactMatchesGeneric: the AVX2 kernel gives the generic
// kernel's kept positions, x, count and flag, for odd lengths and special
// values.
func TestBoundCompactMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, size := range []int{8, 64, 4096, 1000 &^ 7} {
		for _, special := range []bool{false, true} {
			tau, sum := boundData(r, size, special)
			for _, st := range boundStats {
				for _, n := range []int{1, 3, 8} {
					p := newBoundParams(st, n)
					for _, th := range [][3]float32{{1e-5, 2e-5, 3e-5}, {-1, float32(math.Inf(1)), 0}, {1e-7, 1e-6, float32(math.Inf(-1))}, {0x1p-120, 1e-4, 1e-3}} {
						p.setThresholds(th[0], th[1], th[2])
						gi, wi := make([]int32, size), make([]int32, size)
						gx, wx := make([]float32, size), make([]float32, size)
						gt, wt := make([]float32, size), make([]float32, size)
						gin, win := make([]uint8, size/8), make([]uint8, size/8)
						gc, ga, gb := boundCompact(gi, gx, gt, tau, sum, p, gin)
						wc, wa, wb := boundCompactGeneric(wi, wx, wt, tau, sum, p, win)
						if gb != wb {
							t.Fatalf("size %d %+v n=%d %v: bad %v, generic %v", size, st, n, th, gb, wb)
						}
						if wb {
							continue
						}
						if gc != wc || ga != wa || !slices.Equal(gin, win) {
							t.Fatalf("size %d %+v n=%d %v: count %d above %d, generic %d %d", size, st, n, th, gc, ga, wc, wa)
						}
						for j := range wc {
							if gi[j] != wi[j] || math.Float32bits(gx[j]) != math.Float32bits(wx[j]) || math.Float32bits(gt[j]) != math.Float32bits(tau[wi[j]]) || math.Float32bits(wt[j]) != math.Float32bits(tau[wi[j]]) {
								t.Fatalf("size %d %+v n=%d %v: kept[%d] = %d %g, generic %d %g", size, st, n, th, j, gi[j], gx[j], wi[j], wx[j])
							}
						}
					}
				}
			}
		}
	}
}

// TestFinishMergeMatchesReference: the merge's last step gives the bits of
// the scalar division followed by simd.Scale and simd.Add, generic and
// AVX2, over odd lengths with zero, tiny and NaN denominators.
func TestFinishMergeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	for _, size := range []int{0, 5, 8, 4096, 4099} {
		num, den, base := make([]float32, size), make([]float32, size), make([]float32, size)
		for i := range num {
			num[i] = float32(r.NormFloat64() * 1e-3)
			den[i] = float32(r.Float64() * 2)
			base[i] = float32(r.NormFloat64() * 0.02)
			switch r.IntN(8) {
			case 0:
				num[i], den[i] = 0, 0
			case 1:
				den[i] = 1e-13
			case 2:
				num[i], den[i] = float32(math.Copysign(0, -1)), 0
			case 3:
				base[i] = float32(math.Copysign(0, -1))
			}
		}
		for _, lambda := range []float32{1, 1.5, -0.7} {
			want := make([]float32, size)
			for i := range want {
				want[i] = num[i] / max(den[i], 1e-12)
			}
			simd.Scale(want, lambda)
			simd.Add(want, want, base)
			got, gen, gz := make([]float32, size), make([]float32, size), make([]float32, size)
			finishMerge(got, num, den, base, lambda)
			finishMergeGeneric(gen, num, den, base, lambda)
			zn, zd := slices.Clone(num), slices.Clone(den)
			finishMergeZero(gz, zn, zd, base, lambda)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(gen[i]) != math.Float32bits(want[i]) || math.Float32bits(gz[i]) != math.Float32bits(want[i]) {
					t.Fatalf("size %d λ %g: [%d] = %g (generic %g, zeroing %g), reference %g", size, lambda, i, got[i], gen[i], gz[i], want[i])
				}
				if math.Float32bits(zn[i])|math.Float32bits(zd[i]) != 0 {
					t.Fatalf("size %d: finishMergeZero left num/den[%d] = %g, %g", size, i, zn[i], zd[i])
				}
			}
		}
	}
}

// TestDeltaBF16MatchesReference: τ and the running sum from stored bf16
// equal simd.BF16ToF32, simd.Sub and simd.Add — task by task (generic and
// AVX2) and all tasks in one sweep (deltasBF16) — including
// zeros, −0, subnormals, infinities and NaNs, over odd lengths.
func TestDeltaBF16MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	special := []uint16{0, 0x8000, 0x0001, 0x807f, 0x7f80, 0xff80, 0x7fc0, 0x7f81, 0xffc1}
	gen := func(n int) []uint16 {
		v := make([]uint16, n)
		for i := range v {
			v[i] = uint16(r.Uint32())
			if r.IntN(4) == 0 {
				v[i] = special[r.IntN(len(special))]
			}
		}
		return v
	}
	for _, size := range []int{1, 7, 8, 4096, 4101} {
		base, models := gen(size), [][]uint16{gen(size), gen(size), gen(size)}
		bf, want, wantSum := make([]float32, size), make([][]float32, 3), make([]float32, size)
		simd.BF16ToF32(bf, base)
		for k, m := range models {
			want[k] = make([]float32, size)
			simd.BF16ToF32(want[k], m)
			simd.Sub(want[k], want[k], bf)
			if k == 0 {
				copy(wantSum, want[0])
			} else {
				simd.Add(wantSum, wantSum, want[k])
			}
		}
		// All tasks in one sweep, for 1…6 tasks (registers up to 4, then
		// the general loop).
		for nt := 1; nt <= 6; nt++ {
			ms := make([][]uint16, nt)
			wt := make([][]float32, nt)
			ws := make([]float32, size)
			for k := range ms {
				if k < len(models) {
					ms[k] = models[k]
				} else {
					ms[k] = gen(size)
				}
				wt[k] = make([]float32, size)
				simd.BF16ToF32(wt[k], ms[k])
				simd.Sub(wt[k], wt[k], bf)
				if k == 0 {
					copy(ws, wt[0])
				} else {
					simd.Add(ws, ws, wt[k])
				}
			}
			taus, sum := make([][]float32, nt), make([]float32, size)
			for k := range taus {
				taus[k] = make([]float32, size)
			}
			deltasBF16(taus, sum, ms, base, make([]uintptr, 2*nt))
			for k := range taus {
				for i := range taus[k] {
					if math.Float32bits(taus[k][i]) != math.Float32bits(wt[k][i]) || math.Float32bits(sum[i]) != math.Float32bits(ws[i]) {
						t.Fatalf("deltasBF16 %d tasks size %d: τ%d[%d] = %#x sum %#x, reference %#x %#x", nt, size, k, i, math.Float32bits(taus[k][i]), math.Float32bits(sum[i]), math.Float32bits(wt[k][i]), math.Float32bits(ws[i]))
					}
				}
			}
		}
		for _, impl := range []struct {
			name string
			fn   func(tau, sum []float32, model, base []uint16, first bool)
		}{{"generic", deltaBF16Generic}} {
			sum := make([]float32, size)
			for k, m := range models {
				tau := make([]float32, size)
				impl.fn(tau, sum, m, base, k == 0)
				for i := range tau {
					if math.Float32bits(tau[i]) != math.Float32bits(want[k][i]) {
						t.Fatalf("%s size %d: τ%d[%d] = %#x, reference %#x", impl.name, size, k, i, math.Float32bits(tau[i]), math.Float32bits(want[k][i]))
					}
				}
			}
			for i := range sum {
				if math.Float32bits(sum[i]) != math.Float32bits(wantSum[i]) {
					t.Fatalf("%s size %d: sum[%d] = %#x, reference %#x", impl.name, size, i, math.Float32bits(sum[i]), math.Float32bits(wantSum[i]))
				}
			}
		}
	}
}

// exactScores returns the reference balance scores of the entries with
// x = τ·sum (every entry scored, as scores does without the envelope).
func exactScores(tau, sum []float32, s taskStats, n int) []float32 {
	size := len(tau)
	x, m := make([]float32, size), make([]float32, size)
	simd.Mul(x, tau, sum)
	minMax(m, tau, s.lo, s.hi)
	simd.Mul(m, m, m)
	simd.Scale(m, float32(n))
	simd.Exp(m, m)
	simd.Tanh(x, x)
	simd.Mul(x, m, x)
	return x
}

// TestBoundsHoldExactly: whatever the thresholds, an entry with x > 0 that
// the kernel leaves out has an exact score below the floor, and one it
// counts as above has a score above the ceiling and below the running
// maximum; thresholds are taken from the scores themselves (ties included).
func TestBoundsHoldExactly(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	const size = 20000
	for _, special := range []bool{false, true} {
		tau, sum := boundData(r, size, special)
		for _, st := range boundStats {
			for _, n := range []int{1, 2, 3, 7} {
				B := exactScores(tau, sum, st, n)
				p := newBoundParams(st, n)
				kept, certain := 0, 0
				for trial := range 20 {
					pick := func() float32 {
						v := B[r.IntN(size)]
						if trial%4 == 0 {
							v = math.Nextafter32(v, float32(math.Inf(1)))
						}
						return v
					}
					lo, hi, mx := pick(), pick(), pick()
					if lo > hi {
						lo, hi = hi, lo
					}
					p.setThresholds(lo, hi, mx)
					for i := range tau {
						x, keep, above, bad := boundEntry(tau[i], sum[i], p)
						if bad || !(int32(math.Float32bits(x)) > 0) {
							continue
						}
						switch {
						case keep:
							kept++
						case above:
							certain++
							if !(B[i] > p.ceil && B[i] < p.max) {
								t.Fatalf("%+v n=%d: τ=%g sum=%g: B=%g counted above (ceil %g, max %g)", st, n, tau[i], sum[i], B[i], p.ceil, p.max)
							}
						default:
							if !(B[i] < p.floor) {
								t.Fatalf("%+v n=%d: τ=%g sum=%g: B=%g left out with floor %g", st, n, tau[i], sum[i], B[i], p.floor)
							}
						}
					}
				}
				if kept == 0 || (!special && certain == 0) {
					t.Errorf("%+v n=%d: kept %d, certain %d: the test exercises nothing", st, n, kept, certain)
				}
			}
		}
	}
}

func BenchmarkBoundCompact(b *testing.B) {
	r := rand.New(rand.NewPCG(45, 46))
	tau, sum := boundData(r, blockElems, false)
	p := newBoundParams(boundStats[0], 3)
	p.setThresholds(2e-5, 3e-5, 1e-3)
	idx, dx, dtau := make([]int32, blockElems), make([]float32, blockElems), make([]float32, blockElems)
	in := make([]uint8, blockElems/8)
	b.SetBytes(8 * blockElems)
	for b.Loop() {
		boundCompact(idx, dx, dtau, tau, sum, p, in)
	}
}

// TestTanhIdentityBelow: simd.Tanh returns x itself for every float32 in
// [+0, tanhIdentityMax] — every one of them with PCB_EXHAUSTIVE=1 (12 s;
// passed when tanhLarge was written), a stride through them otherwise — and
// not just above it, so tanhLarge may skip it.
func TestTanhIdentityBelow(t *testing.T) {
	if math.Float32bits(tanhIdentityMax) != 0x38800000 {
		t.Fatalf("tanhIdentityMax bits %#x, tanhLarge assumes 0x38800000", math.Float32bits(tanhIdentityMax))
	}
	const piece = 1 << 16
	stride := uint32(13)
	switch {
	case os.Getenv("PCB_EXHAUSTIVE") == "1":
		stride = 1
	case testing.Short():
		stride = 997
	}
	x, y := make([]float32, piece), make([]float32, piece)
	for lo := uint32(0); lo <= 0x38800000; lo += piece * stride {
		n := 0
		for v := lo; n < piece && v <= 0x38800000; v += stride {
			x[n] = math.Float32frombits(v)
			n++
		}
		simd.Tanh(y[:n], x[:n])
		for i := range n {
			if math.Float32bits(y[i]) != math.Float32bits(x[i]) {
				t.Fatalf("tanh(%g) = %g, not itself", x[i], y[i])
			}
		}
	}
	above := []float32{math.Nextafter32(tanhIdentityMax, 1)}
	for range 3 {
		above = append(above, above[len(above)-1]*4)
	}
	y = y[:len(above)]
	simd.Tanh(y, above)
	if y[len(y)-1] == above[len(above)-1] {
		t.Errorf("tanh(%g) = itself: the identity range could be wider (check tanhIdentityMax)", above[len(above)-1])
	}
}

// TestTanhLargeMatchesTanh: tanhLarge gives simd.Tanh's values bit for bit
// on mixed magnitudes, signs, zeros and NaNs.
func TestTanhLargeMatchesTanh(t *testing.T) {
	r := rand.New(rand.NewPCG(47, 48))
	b := &buffers{}
	for _, size := range []int{0, 1, 7, 4096, 5000} {
		x := make([]float32, size)
		for i := range x {
			x[i] = float32(math.Ldexp(r.Float64(), -r.IntN(30)))
			switch r.IntN(12) {
			case 0:
				x[i] = -x[i]
			case 1:
				x[i] = float32(math.NaN())
			case 2:
				x[i] = float32(math.Copysign(0, -1))
			case 3:
				x[i] = tanhIdentityMax
			}
		}
		want := make([]float32, size)
		simd.Tanh(want, x)
		tanhLarge(b, x)
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
				t.Fatalf("size %d: [%d] = %g, simd.Tanh %g", size, i, x[i], want[i])
			}
		}
	}
}

// TestDenseKernelsMatchReference: MinMax of dense τ and the weights and
// numerator terms of the merge, in AVX2, give the bits of minMax and of
// scale and mergeBlock's per-entry arithmetic, over odd lengths with zeros,
// −0, subnormals, ties at the threshold and clip bounds.
func TestDenseKernelsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 58))
	for _, size := range []int{3, 8, 333, 4096} {
		tau, B := make([]float32, size), make([]float32, size)
		for i := range tau {
			tau[i] = float32(r.NormFloat64() * 1e-2)
			B[i] = float32(r.Float64() * 1e-4)
			switch r.IntN(10) {
			case 0:
				tau[i] = float32(math.Copysign(0, float64(r.IntN(2)*2-1)))
			case 1:
				tau[i] = math.Float32frombits(uint32(r.IntN(100)) | uint32(r.IntN(2))<<31)
			case 2:
				tau[i] = 1e-3
			case 3:
				B[i] = 5e-5
			case 4:
				B[i] = 0
			}
		}
		for _, st := range []taskStats{{lo: 1e-3, hi: 2e-2, thr: 5e-5, max: 1e-4}, {lo: 0, hi: 1e-2, thr: 0, max: 2e-4}, {lo: 1e-3, hi: 1e-3, thr: 5e-5, max: 9e-5}} {
			if st.hi > st.lo {
				got, want := make([]float32, size), make([]float32, size)
				minMaxDense(got, tau, st.lo, st.hi)
				minMax(want, tau, st.lo, st.hi)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("size %d %+v: minMax[%d] = %g, reference %g", size, st, i, got[i], want[i])
					}
				}
			}
			for _, w := range []float32{1, 0.7, 0} {
				gotB, wantB := slices.Clone(B), slices.Clone(B)
				got := make([]float32, size)
				weighDense(got, gotB, tau, st, w)
				scale(wantB, st.thr, st.max)
				for i := range wantB {
					want := float32(float32(w*clipped(tau[i], st.lo, st.hi)) * wantB[i])
					if math.Float32bits(gotB[i]) != math.Float32bits(wantB[i]) || math.Float32bits(got[i]) != math.Float32bits(want) {
						t.Fatalf("size %d %+v w %g: [%d] = %g, %g, reference %g, %g", size, st, w, i, gotB[i], got[i], wantB[i], want)
					}
				}
			}
		}
	}
}

// TestClipTallyMatchesGeneric: the clip pass's fused count gives the
// generic counts and masks (bandKeysGeneric twice, countPositiveProducts),
// with special values and band ends taken from the data.
func TestClipTallyMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(59, 60))
	for _, size := range []int{8, 96, 4096} {
		tau, sum := boundData(r, size, true)
		key := func() uint32 { return math.Float32bits(tau[r.IntN(size)]) &^ signBit }
		for range 20 {
			b1 := keyBand{key(), key()}
			b2 := keyBand{key(), key()}
			if b1.lo > b1.hi {
				b1.lo, b1.hi = b1.hi, b1.lo
			}
			if b2.lo > b2.hi { // bands from sorted samples: lo ≤ hi
				b2.lo, b2.hi = b2.hi, b2.lo
			}
			gm1, gm2 := make([]uint8, size/8), make([]uint8, size/8)
			wm1, wm2 := make([]uint8, size/8), make([]uint8, size/8)
			got := clipTally(gm1, gm2, tau, sum, b1, b2)
			want := clipTallyGeneric(wm1, wm2, tau, sum, b1, b2)
			if got != want || !slices.Equal(gm1, wm1) || !slices.Equal(gm2, wm2) {
				t.Fatalf("size %d bands %v %v: counts %v, generic %v (or masks differ)", size, b1, b2, got, want)
			}
			if want[6] != countPositiveProducts(tau, sum) {
				t.Fatalf("positive count %d, countPositiveProducts %d", want[6], countPositiveProducts(tau, sum))
			}
		}
	}
}

// TestMaskCompactMatchesGeneric: listing the entries whose bits are set
// gives, in AVX2, the generic positions, x = τ·sum and τ, over odd lengths
// and densities from none to all.
func TestMaskCompactMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	for _, size := range []int{1, 8, 13, 4096, 4093} {
		tau, sum := boundData(r, size, false)
		for _, density := range []float64{0, 0.13, 0.5, 1} {
			in := make([]uint8, (size+7)/8)
			for i := range size {
				if r.Float64() < density {
					in[i/8] |= 1 << (i % 8)
				}
			}
			gi, wi := make([]int32, size), make([]int32, size)
			gx, wx := make([]float32, size), make([]float32, size)
			gt, wt := make([]float32, size), make([]float32, size)
			gc := maskCompact(gi, gx, gt, tau, sum, in)
			wc := maskCompactGeneric(wi, wx, wt, tau, sum, in)
			if gc != wc {
				t.Fatalf("size %d density %g: %d listed, generic %d", size, density, gc, wc)
			}
			for j := range wc {
				i := wi[j]
				if gi[j] != i || gx[j] != wx[j] || gt[j] != wt[j] || wt[j] != tau[i] || wx[j] != tau[i]*sum[i] || in[i/8]>>(i%8)&1 == 0 {
					t.Fatalf("size %d density %g: [%d] = %d %g %g, generic %d %g %g", size, density, j, gi[j], gx[j], gt[j], i, wx[j], wt[j])
				}
			}
		}
	}
}

// TestAppendMasked: the in-band values are appended in entry order, as a
// bit-by-bit scan gives them, for mask lengths around the 8-byte steps.
func TestAppendMasked(t *testing.T) {
	r := rand.New(rand.NewPCG(63, 64))
	for _, nm := range []int{0, 1, 7, 8, 9, 17, 512} {
		masks := make([]uint8, nm)
		x := make([]float32, 8*nm)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		for j := range masks {
			if r.IntN(3) > 0 {
				masks[j] = uint8(r.Uint32())
			}
		}
		var want []float32
		for i := range x {
			if masks[i/8]>>(i%8)&1 != 0 {
				want = append(want, absBits(x[i]))
			}
		}
		if got := appendMasked(nil, masks, x); !slices.Equal(got, want) {
			t.Fatalf("%d mask bytes: %v, want %v", nm, got, want)
		}
	}
}

// TestTanhMaskMatchesGeneric: the AVX2 selection of entries simd.Tanh may
// change equals the generic one around the limit, for signs, zeros and NaNs.
func TestTanhMaskMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(65, 66))
	x := make([]float32, 4096)
	for i := range x {
		x[i] = math.Float32frombits(0x38800000 + uint32(r.IntN(5)) - 2)
		switch r.IntN(6) {
		case 0:
			x[i] = -x[i]
		case 1:
			x[i] = math.Float32frombits(r.Uint32())
		case 2:
			x[i] = float32(math.Copysign(0, -1))
		}
	}
	got, want := make([]uint8, len(x)/8), make([]uint8, len(x)/8)
	tanhMask(got, x)
	tanhMaskGeneric(want, x)
	if !slices.Equal(got, want) {
		t.Fatal("tanhMask differs from tanhMaskGeneric")
	}
}

func BenchmarkClipTally(b *testing.B) {
	r := rand.New(rand.NewPCG(67, 68))
	tau, sum := boundData(r, blockElems, false)
	m1, m2 := make([]uint8, blockElems/8), make([]uint8, blockElems/8)
	key := func(v float32) uint32 { return math.Float32bits(v) }
	b.SetBytes(8 * blockElems)
	for b.Loop() {
		clipTally(m1, m2, tau, sum, keyBand{key(1e-4), key(2e-4)}, keyBand{key(2e-2), key(2.1e-2)})
	}
}

func BenchmarkDeltasBF16(b *testing.B) {
	r := rand.New(rand.NewPCG(69, 70))
	base := make([]uint16, blockElems)
	models := make([][]uint16, 3)
	taus := make([][]float32, 3)
	for k := range models {
		models[k], taus[k] = make([]uint16, blockElems), make([]float32, blockElems)
		for i := range models[k] {
			models[k][i] = uint16(math.Float32bits(float32(r.NormFloat64()*0.02)) >> 16)
		}
	}
	sum, addrs := make([]float32, blockElems), make([]uintptr, 6)
	b.SetBytes(2 * 4 * blockElems)
	for b.Loop() {
		deltasBF16(taus, sum, models, base, addrs)
	}
}

func BenchmarkMaskCompact(b *testing.B) {
	r := rand.New(rand.NewPCG(71, 72))
	tau, sum := boundData(r, blockElems, false)
	in := make([]uint8, blockElems/8)
	for i := range blockElems {
		if r.IntN(8) == 0 { // about the merge pass's candidate density
			in[i/8] |= 1 << (i % 8)
		}
	}
	idx, dx, dtau := make([]int32, blockElems), make([]float32, blockElems), make([]float32, blockElems)
	b.SetBytes(8 * blockElems)
	for b.Loop() {
		maskCompact(idx, dx, dtau, tau, sum, in)
	}
}
