package evaluate

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/model"
	"github.com/gomerge/gomerge/tokenizer"
)

const testbed = "../testdata/testbed"

func loadModel(t testing.TB, name string) *model.Model {
	t.Helper()
	src, err := formats.Open(filepath.Join(testbed, "models", name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m, err := model.Load(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readRecords(t testing.TB, task string) []Record {
	t.Helper()
	f, err := os.Open(filepath.Join(testbed, "eval", task+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := ReadJSONL(f, task+".jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestTestbedExpected reproduces every accuracy and answer loss of the
// testbed's expected.json (computed by an independent PyTorch
// implementation): loss to 1e-3, accuracy to within 2 of 200 records.
func TestTestbedExpected(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testbed, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]map[string]struct{ Acc, Loss float64 }
	if err := json.Unmarshal(data, &expected); err != nil {
		t.Fatal(err)
	}
	tasks := []string{"rev", "add", "sort", "shift"}
	recs := map[string][]Record{}
	for _, task := range tasks {
		recs[task] = readRecords(t, task)
	}
	start := time.Now()
	models := []string{"base", "expert_rev", "expert_add", "expert_sort", "expert_shift"}
	if testing.Short() || model.KernelName() == "generic" {
		// The pure-Go kernel is about 50 times slower: check two models.
		models = []string{"base", "expert_add"}
	}
	for _, name := range models {
		m := loadModel(t, name)
		for _, task := range tasks {
			want := expected[name][task]
			res, err := Records(context.Background(), m, tokenizer.Bytes{BOS: m.BOS}, recs[task], task, Options{Threads: 2, Generate: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Records != 200 || res.Generated != 200 {
				t.Fatalf("%s/%s: %d records, %d generated, want 200", name, task, res.Records, res.Generated)
			}
			if d := math.Abs(res.Loss - want.Loss); d > 1e-3 {
				t.Errorf("%s/%s: loss %.4f, want %.4f", name, task, res.Loss, want.Loss)
			}
			if d := math.Abs(*res.Accuracy - want.Acc); d > 2.0/200+1e-9 {
				t.Errorf("%s/%s: accuracy %.3f, want %.3f", name, task, *res.Accuracy, want.Acc)
			}
			t.Logf("%s/%s: loss %.4f (want %.4f), accuracy %.3f (want %.3f)", name, task, res.Loss, want.Loss, *res.Accuracy, want.Acc)
		}
	}
	t.Logf("%d models × 4 tasks × 200 records in %v (kernel %s)", len(models), time.Since(start), model.KernelName())
}
