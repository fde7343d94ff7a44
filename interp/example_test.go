package interp_test

import (
	"context"
	"fmt"

	"github.com/gomerge/gomerge/interp"
	"github.com/gomerge/gomerge/merge"
)

// Example merges two small in-memory tensors with SLERP at t = 0.3, the
// worked example of the task-arithmetic-family spec (§5.4).
func Example() {
	var slerp *merge.MethodSpec
	for _, s := range interp.Methods() {
		if s.Name == "slerp" {
			slerp = s
		}
	}
	global := merge.Params{"t": 0.3}
	m, err := slerp.New(global)
	if err != nil {
		panic(err)
	}
	out := &merge.SliceSink{Data: make([]float32, 6)}
	task := &merge.Task{
		Name:   "w",
		Shape:  []int64{6},
		Base:   &merge.SliceSource{Data: []float32{0.4, -0.3, 0.35, -0.2, 0.5, -0.25}},
		Inputs: []merge.Source{&merge.SliceSource{Data: []float32{-0.15, 0.02, 0.4, -0.05, 0.58, -0.28}}},
		Model:  []merge.Params{{}},
		Global: global,
		Out:    out,
	}
	if err := m.Merge(context.Background(), task); err != nil {
		panic(err)
	}
	for _, v := range out.Data {
		fmt.Printf("%.4f ", v)
	}
	fmt.Println()
	// Output: 0.2475 -0.2165 0.3941 -0.1655 0.5658 -0.2796
}
