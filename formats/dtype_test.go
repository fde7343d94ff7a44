package formats

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"
)

// Scalar references, written independently of the conversion kernels.

// refBF16ToF32 widens a bfloat16: its bits are the top half of a float32.
func refBF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// refHalf decodes an IEEE binary16 value exactly in float64.
func refHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -24)
	case 31:
		if m == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1024+m, e-25)
}

// halfTable holds the positive finite binary16 values in increasing order
// (bit patterns 0x0000..0x7bff are increasing).
var halfTable = func() []float64 {
	t := make([]float64, 0x7c00)
	for i := range t {
		t[i] = refHalf(uint16(i))
	}
	return t
}()

// refNearest returns the bit pattern of the representable value nearest to
// a (a ≥ 0, finite) in an increasing table, ties to the even pattern, or
// overflow if a is at or beyond the rounding boundary above the largest
// value (max + half an ulp).
func refNearest(table []float64, a float64, overflow uint16) uint16 {
	last := len(table) - 1
	top := table[last] + (table[last]-table[last-1])/2
	if a >= top {
		if a == top && last%2 == 0 {
			return uint16(last)
		}
		return overflow
	}
	i := sort.SearchFloat64s(table, a) // first table[i] >= a
	if i > last {
		return uint16(last) // below the overflow boundary
	}
	if table[i] == a || i == 0 {
		return uint16(i)
	}
	lo, hi := table[i-1], table[i]
	switch {
	case a-lo < hi-a:
		return uint16(i - 1)
	case a-lo > hi-a:
		return uint16(i)
	case (i-1)%2 == 0:
		return uint16(i - 1)
	}
	return uint16(i)
}

// refF32ToF16 rounds a float32 to binary16, nearest even.
func refF32ToF16(f float32) (uint16, bool) {
	if f != f {
		return 0, true // any NaN
	}
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	a := math.Abs(float64(f))
	if math.IsInf(a, 1) {
		return sign | 0x7c00, false
	}
	return sign | refNearest(halfTable, a, 0x7c00), false
}

// refF32ToBF16 rounds a float32 to bfloat16, nearest even, computed with
// big.Float at 8 bits of precision and the float32 exponent range.
func refF32ToBF16(f float32) (uint16, bool) {
	if f != f {
		return 0, true
	}
	if math.IsInf(float64(f), 0) || f == 0 {
		return uint16(math.Float32bits(f) >> 16), false
	}
	x := new(big.Float).SetFloat64(float64(f))
	exp := x.MantExp(nil) // |f| = m·2^exp, 0.5 ≤ m < 1
	prec := uint(8)
	if exp < -125 { // bfloat16 subnormals keep bits down to 2^-133
		prec = uint(max(0, 8-(-125-exp)))
	}
	if prec == 0 {
		// Below half the smallest subnormal's range: round against 2^-133.
		ulp := math.Ldexp(1, -133)
		q := math.Abs(float64(f)) / ulp
		r := math.RoundToEven(q)
		v := uint16(r)
		if math.Signbit(float64(f)) {
			v |= 0x8000
		}
		return v, false
	}
	x.SetMode(big.ToNearestEven).SetPrec(prec)
	r, _ := x.Float64()
	r32 := float32(r) // exact: r has ≤ 8 significant bits in float32 range
	if math.IsInf(r, 0) || math.Abs(r) > math.MaxFloat32 {
		r32 = float32(math.Copysign(math.Inf(1), r))
	}
	return uint16(math.Float32bits(r32) >> 16), false
}

// refE4M3 decodes an OCP FP8 E4M3FN byte (no infinities; S.1111.111 NaN).
func refE4M3(b byte) float64 {
	sign := 1.0
	if b&0x80 != 0 {
		sign = -1
	}
	e, m := int(b>>3)&15, float64(b&7)
	if e == 15 && m == 7 {
		return math.NaN()
	}
	if e == 0 {
		return sign * math.Ldexp(m, -9)
	}
	return sign * math.Ldexp(8+m, e-10)
}

// refE5M2 decodes an OCP FP8 E5M2 byte (IEEE-like, with infinities).
func refE5M2(b byte) float64 {
	sign := 1.0
	if b&0x80 != 0 {
		sign = -1
	}
	e, m := int(b>>2)&31, float64(b&3)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -16)
	case 31:
		if m == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(4+m, e-17)
}

// sameFloat reports bit equality, or both NaN.
func sameFloat(a float32, b float64) bool {
	if b != b {
		return a != a
	}
	return math.Float32bits(a) == math.Float32bits(float32(b)) && float64(a) == b
}

// testFloats are float32 inputs covering boundaries: every bfloat16 upper
// half with low halves at and around the rounding point, special values,
// float16 subnormals, overflow boundaries and random patterns.
func testFloats() []float32 {
	var out []float32
	for hi := uint32(0); hi < 1<<16; hi++ {
		for _, lo := range []uint32{0, 1, 0x7fff, 0x8000, 0x8001, 0xffff, 0x1000 * (hi % 16)} {
			out = append(out, math.Float32frombits(hi<<16|lo))
		}
	}
	for h := uint16(0); h < 0x7c00; h++ {
		v := refHalf(h)
		next := refHalf(h + 1)
		for _, x := range []float64{v, (v + next) / 2, math.Nextafter(v, math.Inf(1))} {
			out = append(out, float32(x), -float32(x))
		}
	}
	out = append(out, 65504, 65519.99, 65520, 65536, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc00000),
		math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32)
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 18 {
		out = append(out, math.Float32frombits(r.Uint32()))
	}
	return out
}

// TestDecodeExhaustive decodes every 16-bit and 8-bit pattern and compares
// with the references.
func TestDecodeExhaustive(t *testing.T) {
	src := make([]byte, 2<<16)
	for i := range 1 << 16 {
		binary.LittleEndian.PutUint16(src[2*i:], uint16(i))
	}
	dst := make([]float32, 1<<16)
	for _, dt := range []DType{BF16, F16} {
		if err := DecodeFloat32(dst, src, dt); err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i, got := range dst {
			want := float64(refBF16ToF32(uint16(i)))
			if dt == F16 {
				want = refHalf(uint16(i))
			}
			if !sameFloat(got, want) && bad < 5 {
				bad++
				t.Errorf("%s %#04x: got %g (%#x), want %g", dt, i, got, math.Float32bits(got), want)
			}
			// NaN payload: a quiet NaN keeps its sign.
		}
	}
	b8 := make([]byte, 256)
	for i := range b8 {
		b8[i] = byte(i)
	}
	d8 := make([]float32, 256)
	for dt, ref := range map[DType]func(byte) float64{F8E4M3: refE4M3, F8E5M2: refE5M2} {
		if err := DecodeFloat32(d8, b8, dt); err != nil {
			t.Fatal(err)
		}
		for i, got := range d8 {
			if !sameFloat(got, ref(byte(i))) {
				t.Errorf("%s %#02x: got %g, want %g", dt, i, got, ref(byte(i)))
			}
		}
	}
	// Spot values from the OCP FP8 specification.
	spots := []struct {
		dt   DType
		b    byte
		want float64
	}{
		{F8E4M3, 0x7e, 448}, {F8E4M3, 0x01, math.Ldexp(1, -9)}, {F8E4M3, 0x08, math.Ldexp(1, -6)},
		{F8E4M3, 0x38, 1}, {F8E4M3, 0xb8, -1}, {F8E5M2, 0x7b, 57344}, {F8E5M2, 0x01, math.Ldexp(1, -16)},
		{F8E5M2, 0x3c, 1}, {F8E5M2, 0x7c, math.Inf(1)}, {F8E5M2, 0xfc, math.Inf(-1)},
	}
	for _, s := range spots {
		var one [1]float32
		DecodeFloat32(one[:], []byte{s.b}, s.dt)
		if float64(one[0]) != s.want {
			t.Errorf("%s %#02x = %g, want %g", s.dt, s.b, one[0], s.want)
		}
	}
	for _, b := range []byte{0x7f, 0xff} {
		if v := refE4M3(b); v == v {
			t.Errorf("E4M3 reference %#x not NaN", b)
		}
	}
}

// TestEncodeMatchesReference rounds float32 inputs to BF16 and F16 and
// compares every result with the scalar references bit for bit (NaN: any NaN).
func TestEncodeMatchesReference(t *testing.T) {
	in := testFloats()
	out := make([]byte, 2*len(in))
	for dt, ref := range map[DType]func(float32) (uint16, bool){BF16: refF32ToBF16, F16: refF32ToF16} {
		if err := EncodeFloat32(out, in, dt); err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i, f := range in {
			got := binary.LittleEndian.Uint16(out[2*i:])
			want, nan := ref(f)
			var gotNaN bool
			if dt == BF16 {
				gotNaN = got&0x7f80 == 0x7f80 && got&0x7f != 0
			} else {
				gotNaN = got&0x7c00 == 0x7c00 && got&0x3ff != 0
			}
			if nan && gotNaN {
				continue
			}
			if got != want && bad < 10 {
				bad++
				t.Errorf("%s(%g = %#08x) = %#04x, want %#04x", dt, f, math.Float32bits(f), got, want)
			}
		}
	}
}

// TestF64AndF32 checks F64 → float32 rounding against big.Float and that
// F32 and F64 encoding are exact.
func TestF64AndF32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	vals := []float64{0, math.Copysign(0, -1), 1, 1 + 0x1p-24, 1 + 0x1p-24 + 0x1p-52, 1 + 3*0x1p-24,
		math.MaxFloat32, math.MaxFloat32 * (1 + 0x1p-25), math.MaxFloat64, 0x1p-149, 0x1p-150, 0x1.8p-150, 0x1p-151,
		math.Inf(1), math.Inf(-1), math.NaN()}
	for range 1 << 16 {
		vals = append(vals, math.Float64frombits(r.Uint64()))
	}
	src := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(src[8*i:], math.Float64bits(v))
	}
	dst := make([]float32, len(vals))
	if err := DecodeFloat32(dst, src, F64); err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		var want float32
		switch {
		case v != v:
			if dst[i] == dst[i] {
				t.Errorf("F64 NaN decoded as %g", dst[i])
			}
			continue
		default:
			want, _ = big.NewFloat(v).Float32()
		}
		if math.Float32bits(dst[i]) != math.Float32bits(want) {
			t.Errorf("F64 %g: got %g, want %g", v, dst[i], want)
		}
	}
	in := testFloats()
	b64 := make([]byte, 8*len(in))
	b32 := make([]byte, 4*len(in))
	if err := EncodeFloat32(b64, in, F64); err != nil {
		t.Fatal(err)
	}
	if err := EncodeFloat32(b32, in, F32); err != nil {
		t.Fatal(err)
	}
	back := make([]float32, len(in))
	for _, c := range []struct {
		dt DType
		b  []byte
	}{{F64, b64}, {F32, b32}} {
		if err := DecodeFloat32(back, c.b, c.dt); err != nil {
			t.Fatal(err)
		}
		for i := range in {
			if math.Float32bits(back[i]) != math.Float32bits(in[i]) && !(in[i] != in[i] && back[i] != back[i]) {
				t.Fatalf("%s round trip of %#x gave %#x", c.dt, math.Float32bits(in[i]), math.Float32bits(back[i]))
			}
		}
	}
	// F32 keeps NaN payloads bit for bit.
	if math.Float32bits(back[len(in)-1]) != math.Float32bits(in[len(in)-1]) {
		t.Error("F32 changed bits")
	}
}

// TestConversionErrors checks the refusals of DecodeFloat32/EncodeFloat32.
func TestConversionErrors(t *testing.T) {
	if err := DecodeFloat32(make([]float32, 2), make([]byte, 4), I16); err == nil {
		t.Error("decoding I16 as float succeeded")
	}
	if err := DecodeFloat32(make([]float32, 2), make([]byte, 3), BF16); err == nil {
		t.Error("decoding a short buffer succeeded")
	}
	if err := EncodeFloat32(make([]byte, 2), make([]float32, 2), F8E4M3); err == nil {
		t.Error("encoding F8_E4M3 succeeded")
	}
}

// TestParseDType checks the accepted spellings.
func TestParseDType(t *testing.T) {
	for in, want := range map[string]DType{"bf16": BF16, "torch.bfloat16": BF16, "half": F16, "FP16": F16,
		"float32": F32, "f64": F64, "BF16": BF16, "I64": I64, "F8_E4M3": F8E4M3} {
		if got, err := ParseDType(in); err != nil || got != want {
			t.Errorf("ParseDType(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseDType("int3"); err == nil {
		t.Error("ParseDType(int3) succeeded")
	}
}
