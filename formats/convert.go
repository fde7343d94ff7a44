package formats

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/gomerge/gomerge/simd"
)

// Data are little-endian in safetensors; gomerge runs on little-endian hosts
// (amd64, arm64, and the other little-endian GOARCHes), so byte buffers are
// reinterpreted as []uint16 / []float32 without copying.

func asU16(b []byte) []uint16 {
	if len(b) < 2 {
		return nil
	}
	return unsafe.Slice((*uint16)(unsafe.Pointer(&b[0])), len(b)/2)
}

func asF32(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// DecodeFloat32 converts len(dst) elements of dtype dt from src to float32.
// src must hold len(dst)·dt.Size() bytes. F8_E4M3 and F8_E5M2 are decoded
// exactly; F64 is rounded to nearest even.
func DecodeFloat32(dst []float32, src []byte, dt DType) error {
	n := len(dst)
	if len(src) != n*dt.Size() {
		return fmt.Errorf("decode %s: %d bytes for %d elements", dt, len(src), n)
	}
	switch dt {
	case F32:
		copy(dst, asF32(src))
	case BF16:
		simd.BF16ToF32(dst, asU16(src))
	case F16:
		simd.F16ToF32(dst, asU16(src))
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	case F8E4M3:
		dst = dst[:len(src)]
		for i, b := range src {
			dst[i] = e4m3Table[b]
		}
	case F8E5M2:
		dst = dst[:len(src)]
		for i, b := range src {
			dst[i] = e5m2Table[b]
		}
	default:
		return fmt.Errorf("dtype %s is not a floating-point type", dt)
	}
	return nil
}

// EncodeFloat32 converts src to dtype dt into dst, which must hold
// len(src)·dt.Size() bytes. Rounding is to nearest even.
func EncodeFloat32(dst []byte, src []float32, dt DType) error {
	if len(dst) != len(src)*dt.Size() {
		return fmt.Errorf("encode %s: %d bytes for %d elements", dt, len(dst), len(src))
	}
	switch dt {
	case F32:
		copy(asF32(dst), src)
	case BF16:
		simd.F32ToBF16(asU16(dst), src)
	case F16:
		simd.F32ToF16(asU16(dst), src)
	case F64:
		for i, v := range src {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(v)))
		}
	default:
		return fmt.Errorf("cannot write float data as %s", dt)
	}
	return nil
}

// e4m3ToF32 decodes an OCP FP8 E4M3 (fn variant: no infinities, 0x7f/0xff NaN).
func e4m3ToF32(b byte) float32 {
	sign := float32(1)
	if b&0x80 != 0 {
		sign = -1
	}
	e := int(b>>3) & 0xf
	m := int(b & 7)
	if e == 0xf && m == 7 {
		return float32(math.NaN())
	}
	if e == 0 {
		return sign * float32(m) * (1.0 / 512) // m/8 · 2^-6
	}
	return sign * float32(math.Ldexp(1+float64(m)/8, e-7))
}

// e4m3Table and e5m2Table hold the float32 value of every FP8 byte. They
// are computed once and only read.
var e4m3Table, e5m2Table = fp8Tables()

func fp8Tables() (e4m3, e5m2 [256]float32) {
	var halves [256]uint16
	for b := range 256 {
		e4m3[b] = e4m3ToF32(byte(b))
		halves[b] = uint16(b) << 8 // E5M2 is the top byte of an IEEE half
	}
	simd.F16ToF32(e5m2[:], halves[:])
	return e4m3, e5m2
}

// ReadFloat32 reads len(dst) elements starting at element elem of a
// floating-point tensor and converts them to float32. scratch is a reusable
// byte buffer; it is grown as needed and returned.
func (t *Tensor) ReadFloat32(dst []float32, elem int64, scratch []byte) ([]byte, error) {
	sz := t.DType.Size()
	if !t.DType.IsFloat() {
		return scratch, fmt.Errorf("%s: tensor %q: dtype %s is not a floating-point type", t.File, t.Name, t.DType)
	}
	nb := len(dst) * sz
	if t.DType == F32 && len(dst) > 0 {
		// Read straight into dst.
		return scratch, t.ReadAt(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), nb), elem*int64(sz))
	}
	if cap(scratch) < nb {
		scratch = make([]byte, nb)
	}
	b := scratch[:nb]
	if err := t.ReadAt(b, elem*int64(sz)); err != nil {
		return scratch, err
	}
	if err := DecodeFloat32(dst, b, t.DType); err != nil {
		return scratch, fmt.Errorf("%s: tensor %q: %w", t.File, t.Name, err)
	}
	return scratch, nil
}
