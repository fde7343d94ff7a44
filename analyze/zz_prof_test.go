package analyze

import (
	"context"
	"testing"

	"github.com/gomerge/gomerge/formats"
)

func TestZZProf(t *testing.T) {
	F := "/tmp/bfam/family/"
	b, _ := formats.Open(F + "base")
	e1, _ := formats.Open(F + "expert1")
	e2, _ := formats.Open(F + "expert2")
	if _, err := Run(context.Background(), b, []*formats.Model{e1, e2}, Options{Threads: 1, ZeroTol: 1e-3}); err != nil {
		t.Fatal(err)
	}
}
