package model_test

import (
	"context"
	"fmt"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/model"
)

// Greedy decoding with a cache: the testbed's addition expert completes a
// prompt of BOS followed by bytes.
func Example() {
	src, err := formats.Open("../testdata/testbed/models/expert_add")
	if err != nil {
		panic(err)
	}
	defer src.Close()
	m, err := model.Load(context.Background(), src)
	if err != nil {
		panic(err)
	}
	r := m.NewRunner(2)
	cache := &model.Cache{}
	tokens := []int{m.BOS}
	for _, c := range "add:345+990=" {
		tokens = append(tokens, int(c))
	}
	logits := make([]float32, m.Vocab)
	var out []byte
	for range 8 {
		h, err := r.Forward(context.Background(), []model.Seq{{Tokens: tokens, Cache: cache}})
		if err != nil {
			panic(err)
		}
		last := len(tokens) - 1
		r.Logits(context.Background(), logits, h[last*m.Hidden:], 1)
		next := 0
		for i, v := range logits {
			if v > logits[next] {
				next = i
			}
		}
		if m.IsEOS(next) {
			break
		}
		out = append(out, byte(next))
		tokens = []int{next}
	}
	fmt.Printf("%s\n", out)
	// Output: 1335
}
