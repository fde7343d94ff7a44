package tasks

import (
	"testing"

	"github.com/gomerge/gomerge/merge"
)

// TestChachaStreamMatchesTaskRNG checks that the bulk stream gives the
// values of merge.RNG's generator, across reseeds (every 124 values), for
// several keys and read sizes.
func TestChachaStreamMatchesTaskRNG(t *testing.T) {
	for _, c := range []struct {
		seed          uint64
		tensor        string
		model, chunk  int
		piece, values int
	}{
		{0, "w", 0, 0, 1, 300},
		{1, "model.layers.3.mlp.up_proj.weight", 2, 7, 123, 1000},
		{42, "x", 1, 1000, 8192, 20000},
	} {
		want := merge.RNG(c.seed, c.tensor, c.model, c.chunk)
		s := newChachaStream(rngKey(c.seed, c.tensor, c.model, c.chunk))
		got := make([]uint64, c.values)
		for lo := 0; lo < len(got); lo += c.piece {
			s.fill(got[lo:min(lo+c.piece, len(got))])
		}
		for i, g := range got {
			if w := want.Uint64(); g != w {
				t.Fatalf("%+v: value %d: %x, Task.RNG %x", c, i, g, w)
			}
		}
	}
}

// TestChachaIterationMatchesGeneric compares the AVX2 block function with
// the generic one.
func TestChachaIterationMatchesGeneric(t *testing.T) {
	for i := range 20 {
		key := rngKey(uint64(i), "t", i, 3*i)
		a, b := newChachaStream(key), newChachaStream(key)
		chachaIteration(a)
		chachaIterationGeneric(b)
		if a.buf != b.buf {
			t.Fatalf("key %d: iteration differs from the generic one", i)
		}
	}
}

func BenchmarkChachaStream(b *testing.B) {
	s := newChachaStream(rngKey(1, "w", 0, 0))
	buf := make([]uint64, fusedBlock/2)
	b.SetBytes(8 * int64(len(buf)))
	for b.Loop() {
		s.fill(buf)
	}
}

func BenchmarkTaskRNG(b *testing.B) {
	r := merge.RNG(1, "w", 0, 0)
	buf := make([]uint64, fusedBlock/2)
	b.SetBytes(8 * int64(len(buf)))
	for b.Loop() {
		for i := range buf {
			buf[i] = r.Uint64()
		}
	}
}

func BenchmarkChachaIteration(b *testing.B) {
	s := newChachaStream(rngKey(1, "w", 0, 0))
	b.SetBytes(1024)
	for b.Loop() {
		chachaIteration(s)
	}
}
