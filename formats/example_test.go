package formats_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/gomerge/gomerge/formats"
)

// Example writes a two-tensor checkpoint, reads it back and converts it to
// a float32 model directory.
func Example() {
	dir, err := os.MkdirTemp("", "formats-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tiny.safetensors")

	// Declare every tensor up front, then fill them in any order.
	w, err := formats.Create(path, []formats.TensorSpec{
		{Name: "embed.weight", DType: formats.BF16, Shape: []int64{2, 3}},
		{Name: "norm.weight", DType: formats.F32, Shape: []int64{3}},
	}, formats.WriteOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // removes the temporary files unless Commit succeeded
	if _, err := w.WriteFloat32("embed.weight", 0, []float32{1, 2, 3, 4, 5, 6.01}, nil); err != nil {
		log.Fatal(err)
	}
	if _, err := w.WriteFloat32("norm.weight", 0, []float32{1, 1, 1}, nil); err != nil {
		log.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		log.Fatal(err)
	}

	m, err := formats.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	t, _ := m.Tensor("embed.weight")
	row := make([]float32, 3)
	if _, err := t.ReadFloat32(row, 3, nil); err != nil { // the second row
		log.Fatal(err)
	}
	fmt.Println(m.Names(), t.DType, t.Shape, row)

	out := filepath.Join(dir, "f32")
	if err := formats.Convert(context.Background(), m, out, formats.ConvertOptions{DType: formats.F32}); err != nil {
		log.Fatal(err)
	}
	c, err := formats.Open(out)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	s := formats.Summarize(c)
	fmt.Println(s.Totals.Parameters, s.Totals.Bytes, s.Shards[0].File)
	// Output:
	// [embed.weight norm.weight] BF16 [2 3] [4 5 6]
	// 9 36 model.safetensors
}
