package formats

import (
	"fmt"
	"strings"
)

// DType is a safetensors element type, spelled as in the file header ("BF16").
type DType string

// The element types of the safetensors format.
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	Bool   DType = "BOOL"
)

// Size returns the number of bytes of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case F8E4M3, F8E5M2, I8, U8, Bool:
		return 1
	}
	return 0
}

// IsFloat reports whether d is a floating-point type that merges convert to
// float32. Integer and bool tensors are copied byte for byte instead.
func (d DType) IsFloat() bool {
	switch d {
	case F64, F32, F16, BF16, F8E4M3, F8E5M2:
		return true
	}
	return false
}

// Writable reports whether gomerge can write float32 data as d.
func (d DType) Writable() bool {
	switch d {
	case F64, F32, F16, BF16:
		return true
	}
	return false
}

// TorchName returns the name transformers uses in config.json's torch_dtype.
func (d DType) TorchName() string {
	switch d {
	case F64:
		return "float64"
	case F32:
		return "float32"
	case F16:
		return "float16"
	case BF16:
		return "bfloat16"
	}
	return strings.ToLower(string(d))
}

// ParseDType accepts a dtype as users write it on the command line or in a
// mergekit recipe: "bf16", "bfloat16", "torch.bfloat16", "f16", "fp16",
// "float16", "half", "f32", "fp32", "float32", "float", "f64", "float64", or a
// safetensors spelling such as "BF16".
func ParseDType(s string) (DType, error) {
	k := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(s), "torch."))
	switch k {
	case "bf16", "bfloat16":
		return BF16, nil
	case "f16", "fp16", "float16", "half":
		return F16, nil
	case "f32", "fp32", "float32", "float":
		return F32, nil
	case "f64", "fp64", "float64", "double":
		return F64, nil
	}
	if d := DType(strings.ToUpper(s)); d.Size() > 0 {
		return d, nil
	}
	return "", fmt.Errorf("unknown dtype %q (want bf16, f16, f32 or f64)", s)
}
