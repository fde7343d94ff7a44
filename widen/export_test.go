package widen

// Test helpers for the external tests (cli_test.go).
var (
	WriteCheckpoint = writeCheckpoint
	TestFamily      = testFamily
	OpenModel       = openModel
	ReadRaw         = readRaw
	MergeFiles      = mergeCheckpoints
)

// NamedTensor is a test checkpoint's tensor.
type NamedTensor = namedTensor

// NewNamedTensor returns a test tensor.
func NewNamedTensor(name string, shape []int64, data []float32) NamedTensor {
	return namedTensor{name, shape, data}
}
