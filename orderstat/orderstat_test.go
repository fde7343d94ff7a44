package orderstat

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// chunked returns a Scan over data in chunks of random sizes (different on
// every call, as the Scan contract allows), counting its calls.
func chunked(data []float32, seed uint64, calls *int) Scan {
	return func(ctx context.Context, visit func([]float32) error) error {
		*calls++
		r := rand.New(rand.NewPCG(seed, uint64(*calls)))
		for lo := 0; lo < len(data); {
			hi := min(len(data), lo+1+r.IntN(97))
			if err := visit(data[lo:hi]); err != nil {
				return err
			}
			lo = hi
		}
		return nil
	}
}

// concurrent returns a Scan that visits fixed chunks from several goroutines.
func concurrent(data []float32, workers int) Scan {
	return func(ctx context.Context, visit func([]float32) error) error {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		const size = 37
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for lo := w * size; lo < len(data); lo += workers * size {
					if err := visit(data[lo:min(len(data), lo+size)]); err != nil {
						errs[w] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	}
}

// sortedRef sorts a copy of data in the package's order: NaNs last, −0 and
// +0 equal.
func sortedRef(data []float32, abs bool) []float32 {
	s := slices.Clone(data)
	if abs {
		for i, v := range s {
			s[i] = float32(math.Abs(float64(v)))
		}
	}
	slices.SortFunc(s, func(a, b float32) int {
		an, bn := a != a, b != b
		switch {
		case an && bn:
			return 0
		case an:
			return 1
		case bn:
			return -1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	return s
}

func sameValue(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	if a == 0 && b == 0 {
		return true
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

// genData draws n values of a named distribution.
func genData(kind string, n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xffc00001), // a negative NaN
		math.Float32frombits(1), math.Float32frombits(0x807fffff), // subnormals
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}
	for i := range out {
		switch kind {
		case "normal":
			out[i] = float32(r.NormFloat64() * 1e-3)
		case "duplicates":
			out[i] = float32(r.IntN(7)-3) * 0.25
		case "special":
			if r.IntN(4) == 0 {
				out[i] = special[r.IntN(len(special))]
			} else {
				out[i] = float32(r.NormFloat64())
			}
		case "bits": // every bit pattern, NaNs included
			out[i] = math.Float32frombits(r.Uint32())
		case "narrow": // all in one high-16 bucket
			out[i] = math.Float32frombits(0x3f800000 | uint32(r.IntN(1<<16)))
		case "constant":
			out[i] = 1.5
		}
	}
	return out
}

func TestKthMatchesSort(t *testing.T) {
	kinds := []string{"normal", "duplicates", "special", "bits", "narrow", "constant"}
	sizes := []int{1, 2, 7, 1000, 20011}
	for _, kind := range kinds {
		for _, n := range sizes {
			for _, abs := range []bool{false, true} {
				data := genData(kind, n, uint64(n))
				want := sortedRef(data, abs)
				// 0, n−1, the middle, spread ranks (many buckets) and
				// repeats, in unsorted order.
				ks := []int64{int64(n - 1), 0, int64(n / 2)}
				r := rand.New(rand.NewPCG(uint64(n), 1))
				for range 12 {
					ks = append(ks, int64(r.IntN(n)))
				}
				ks = append(ks, 0, int64(n-1))
				for _, few := range []bool{false, true} {
					use := ks
					if few { // one bucket: the SIMD second pass for abs; else ≤ 4 or more buckets
						use = ks[:1]
					}
					calls := 0
					scan := chunked(data, uint64(n), &calls)
					var got []float32
					var err error
					if abs {
						got, err = KthAbs(context.Background(), scan, use...)
					} else {
						got, err = Kth(context.Background(), scan, use...)
					}
					if err != nil {
						t.Fatalf("%s n=%d abs=%v: %v", kind, n, abs, err)
					}
					if calls != 2 {
						t.Errorf("%s n=%d abs=%v: %d passes, want 2", kind, n, abs, calls)
					}
					for i, k := range use {
						if !sameValue(got[i], want[k]) {
							t.Errorf("%s n=%d abs=%v: rank %d = %g (%#x), want %g (%#x)", kind, n, abs, k,
								got[i], math.Float32bits(got[i]), want[k], math.Float32bits(want[k]))
						}
					}
				}
			}
		}
	}
}

func TestSpecialOrder(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	negNaN := math.Float32frombits(0xffc00000)
	data := []float32{nan, 3, negZero, -1, float32(math.Inf(1)), 0, negNaN, float32(math.Inf(-1)), -2}
	tests := []struct {
		abs  bool
		k    int64
		want float32
	}{
		{false, 0, float32(math.Inf(-1))},
		{false, 1, -2},
		{false, 2, -1},
		{false, 3, 0},
		{false, 4, 0},
		{false, 5, 3},
		{false, 6, float32(math.Inf(1))},
		{false, 7, nan},
		{false, 8, nan},
		{true, 0, 0},
		{true, 1, 0},
		{true, 2, 1},
		{true, 5, float32(math.Inf(1))},
		{true, 6, float32(math.Inf(1))},
		{true, 7, nan},
	}
	for _, tc := range tests {
		calls := 0
		f := Kth
		if tc.abs {
			f = KthAbs
		}
		got, err := f(context.Background(), chunked(data, 1, &calls), tc.k)
		if err != nil {
			t.Fatal(err)
		}
		if !sameValue(got[0], tc.want) {
			t.Errorf("abs=%v rank %d = %g, want %g", tc.abs, tc.k, got[0], tc.want)
		}
		if got[0] == 0 && math.Signbit(float64(got[0])) {
			t.Errorf("abs=%v rank %d: zero returned as −0, want +0", tc.abs, tc.k)
		}
	}
}

func TestConcurrentVisits(t *testing.T) {
	data := genData("special", 50000, 3)
	ks := []int64{0, 1, 100, 25000, 49998, 49999}
	for _, abs := range []bool{false, true} {
		want := sortedRef(data, abs)
		f := Kth
		if abs {
			f = KthAbs
		}
		got, err := f(context.Background(), concurrent(data, 4), ks...)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range ks {
			if !sameValue(got[i], want[k]) {
				t.Errorf("abs=%v rank %d = %g, want %g", abs, k, got[i], want[k])
			}
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	calls := 0
	if _, err := Kth(ctx, chunked(nil, 1, &calls), 0); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: err = %v, want ErrEmpty", err)
	}
	data := []float32{1, 2, 3}
	for _, k := range []int64{-1, 3} {
		if _, err := Kth(ctx, chunked(data, 1, &calls), k); err == nil {
			t.Errorf("rank %d of 3 values: no error", k)
		}
	}
	// A scan that visits different values the second time.
	n := 0
	changing := func(ctx context.Context, visit func([]float32) error) error {
		n++
		if n == 1 {
			return visit([]float32{1, 2, 3})
		}
		return visit([]float32{1, 2})
	}
	if _, err := Kth(ctx, changing, 2); err == nil {
		t.Error("non-repeatable scan: no error")
	}
	boom := errors.New("boom")
	failing := func(ctx context.Context, visit func([]float32) error) error { return boom }
	if _, err := KthAbs(ctx, failing, 0); !errors.Is(err, boom) {
		t.Errorf("failing scan: err = %v, want boom", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Kth(cctx, chunked(data, 1, &calls), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// TestFloor: in the second pass no value below Floor is needed, and the
// selected values are at least Floor.
func TestFloor(t *testing.T) {
	for _, kind := range []string{"normal", "special", "bits", "duplicates"} {
		for _, abs := range []bool{false, true} {
			data := genData(kind, 5000, 9)
			ks := []int64{4000, 4999, 2500}
			s := NewSelector(abs, ks...)
			if f := s.Floor(); !math.IsInf(float64(f), -1) {
				t.Errorf("%s abs=%v: floor in pass 1 = %g, want -Inf", kind, abs, f)
			}
			s.Add(data)
			if err := s.Next(); err != nil {
				t.Fatal(err)
			}
			floor := s.Floor()
			var kept []float32
			for _, v := range data {
				a := v
				if abs {
					a = float32(math.Abs(float64(v)))
				}
				if !(a < floor) { // NaNs are kept
					kept = append(kept, v)
				}
			}
			if kind == "normal" && len(kept) > len(data)*3/4 {
				t.Errorf("%s abs=%v: floor %g keeps %d of %d values for ranks ≥ half", kind, abs, floor, len(kept), len(data))
			}
			s.Add(kept)
			if err := s.Next(); err != nil {
				t.Fatalf("%s abs=%v: second pass over the values ≥ floor %g: %v", kind, abs, floor, err)
			}
			want := sortedRef(data, abs)
			for i, k := range ks {
				if !sameValue(s.Results()[i], want[k]) {
					t.Errorf("%s abs=%v: rank %d = %g, want %g", kind, abs, k, s.Results()[i], want[k])
				}
				if s.Results()[i] < floor {
					t.Errorf("%s abs=%v: rank %d = %g below floor %g", kind, abs, k, s.Results()[i], floor)
				}
			}
		}
	}
}

func TestCount(t *testing.T) {
	data := genData("normal", 1234, 1)
	n, err := Count(context.Background(), concurrent(data, 3))
	if err != nil || n != 1234 {
		t.Errorf("Count = %d, %v; want 1234", n, err)
	}
}

func TestSelectorStates(t *testing.T) {
	s := NewSelector(false, 0)
	if s.Done() || s.Pass() != 0 || s.Results() != nil {
		t.Fatal("fresh selector not in pass 0")
	}
	s.Add([]float32{5, 4})
	if err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if s.Pass() != 1 || s.N() != 2 {
		t.Fatalf("after pass 1: pass %d, n %d", s.Pass(), s.N())
	}
	s.Add([]float32{4})
	s.Add([]float32{5})
	if err := s.Next(); err != nil {
		t.Fatal(err)
	}
	if !s.Done() || s.Results()[0] != 4 {
		t.Fatalf("results %v", s.Results())
	}
	if err := s.Next(); err == nil {
		t.Error("Next after done: no error")
	}
}

func BenchmarkSelector(b *testing.B) {
	data := genData("normal", 1<<20, 1)
	for _, abs := range []bool{false, true} {
		name := "signed"
		if abs {
			name = "abs"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(2 * 4 * len(data)))
			for b.Loop() {
				s := NewSelector(abs, 1000, 500000)
				s.Add(data)
				s.Next()
				s.Add(data)
				s.Next()
			}
		})
	}
}

// TestAbsZerosInLowestBucket: task-vector-like data with many exact zeros
// (±0) and a few subnormals, which share the lowest bucket with them; ranks
// among the zeros, the subnormals and the top, two to four at a time (the
// comparison path of the second pass, which counts the zeros apart).
func TestAbsZerosInLowestBucket(t *testing.T) {
	const n = 50000
	r := rand.New(rand.NewPCG(5, 6))
	data := make([]float32, n)
	for i := range data {
		switch r.IntN(10) {
		case 0, 1:
			data[i] = 0
		case 2:
			data[i] = float32(math.Copysign(0, -1))
		case 3:
			if r.IntN(50) == 0 {
				data[i] = math.Float32frombits(uint32(1 + r.IntN(1000))) // subnormal
			} else {
				data[i] = float32(r.NormFloat64() * 1e-3)
			}
		default:
			data[i] = float32(r.NormFloat64() * 1e-3)
		}
	}
	want := sortedRef(data, true)
	zeros := 0
	for _, v := range data {
		if v == 0 {
			zeros++
		}
	}
	rankSets := [][]int64{
		{int64(n / 100), n - n/100 - 1},  // clip positions: a zero and the top
		{int64(zeros - 1), int64(zeros)}, // the last zero, the first subnormal
		{0, int64(zeros + 3), n / 2, n - 1},
		{int64(zeros + 1)},
	}
	for _, ks := range rankSets {
		for _, workers := range []int{1, 3} {
			got, err := KthAbs(context.Background(), concurrent(data, workers), ks...)
			if err != nil {
				t.Fatal(err)
			}
			for i, k := range ks {
				if !sameValue(got[i], want[k]) {
					t.Errorf("ranks %v workers %d: rank %d = %g (%#x), want %g (%#x)", ks, workers, k, got[i], math.Float32bits(got[i]), want[k], math.Float32bits(want[k]))
				}
			}
		}
	}
}

// TestHistAbsLow16FewMatchesGeneric: the vectorised matching (where the CPU
// has it) gives the generic loop's histograms and zero count, over lengths
// that are and are not multiples of 8 and with prefix 0 (the zeros' bucket).
func TestHistAbsLow16FewMatchesGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, n := range []int{0, 5, 8, 4099, 20000} {
		vals := genData("special", n, uint64(n))
		for i := range vals {
			if r.IntN(5) == 0 {
				vals[i] = 0
			}
			if r.IntN(50) == 0 {
				vals[i] = math.Float32frombits(uint32(r.IntN(1 << 17))) // bucket 0 or 1
			}
		}
		for _, few := range [][4]int32{{0, 0x3f80, -1, -1}, {0, -1, -1, -1}, {1, 0x3f00, 0x3f80, 0x7fc0}} {
			newHists := func() *[4][]uint64 {
				var hs [4][]uint64
				for i, p := range few {
					if p >= 0 {
						hs[i] = make([]uint64, 1<<16)
					}
				}
				return &hs
			}
			got, want := newHists(), newHists()
			gz := histAbsLow16Few(got, vals, &few)
			wz := histAbsLow16FewGeneric(want, vals, &few)
			if gz != wz {
				t.Errorf("n=%d few %x: %d zeros, generic %d", n, few, gz, wz)
			}
			for i := range got {
				if !slices.Equal(got[i], want[i]) {
					t.Errorf("n=%d few %x: histogram %d differs from the generic one", n, few, i)
				}
			}
		}
	}
}
