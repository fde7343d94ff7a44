package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testbedDir = "../testdata/testbed"

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// TestEvalJSONL runs the expert beside its base on the add task and checks
// the numbers of the testbed's expected.json.
func TestEvalJSONL(t *testing.T) {
	base := filepath.Join(testbedDir, "models/base")
	add := filepath.Join(testbedDir, "models/expert_add")
	data := filepath.Join(testbedDir, "eval/add.jsonl")
	out, errs, code := runCLI(t, "eval", add, base, "--data", data, "--generate", "--json", "-j", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if errs != "" {
		t.Errorf("stderr not empty: %q", errs)
	}
	var rows []struct {
		Model, Data      string
		Tokens           int
		Loss, Perplexity float64
		Accuracy         *float64
		Correct          int
		Generated        int
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	want := []struct {
		model     string
		loss, acc float64
	}{{add, 0.0812, 0.9}, {base, 3.0182, 0.005}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		if r.Model != w.model || r.Data != data || r.Generated != 200 || r.Accuracy == nil {
			t.Fatalf("row %d: %+v", i, r)
		}
		if math.Abs(r.Loss-w.loss) > 1e-3 || math.Abs(*r.Accuracy-w.acc) > 0.011 {
			t.Errorf("%s: loss %.4f accuracy %.3f, want %.4f and %.3f", w.model, r.Loss, *r.Accuracy, w.loss, w.acc)
		}
		if math.Abs(r.Perplexity-math.Exp(r.Loss)) > 1e-9*r.Perplexity {
			t.Errorf("perplexity %g is not e^loss", r.Perplexity)
		}
	}
	// The table: losses and accuracies as in the testbed's expected.json
	// (add: expert_add 90.0% / 0.0812, base 0.5% / 3.0182), perplexity e^loss.
	out, errs, code = runCLI(t, "eval", add, base, "--data", data, "--generate")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	wantTable := `model                                  data                                tokens  loss    perplexity  accuracy
../testdata/testbed/models/expert_add  ../testdata/testbed/eval/add.jsonl  908     0.0812  1.085       90.0% (180/200)
../testdata/testbed/models/base        ../testdata/testbed/eval/add.jsonl  908     3.0182  20.454      0.5% (1/200)
`
	if out != wantTable {
		t.Errorf("table:\n%s\nwant:\n%s", out, wantTable)
	}
}

// TestEvalText checks that a text shorter than the context scores exactly
// as the same bytes given as one {"ids": [BOS, bytes…]} record.
func TestEvalText(t *testing.T) {
	dir := t.TempDir()
	text := "key:value=abc\nThe quick brown fox.\n"
	txt := filepath.Join(dir, "doc.txt")
	os.WriteFile(txt, []byte(text), 0o644)
	ids := []int{256}
	for i := 0; i < len(text); i++ {
		ids = append(ids, int(text[i]))
	}
	line, _ := json.Marshal(map[string]any{"ids": ids})
	jl := filepath.Join(dir, "doc.jsonl")
	os.WriteFile(jl, append(line, '\n'), 0o644)
	base := filepath.Join(testbedDir, "models/base")
	out, errs, code := runCLI(t, "eval", base, "--data", txt, "--data", jl, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rows []struct {
		Tokens int
		Loss   float64
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Tokens != len(text) || rows[1].Tokens != len(text) {
		t.Fatalf("rows %+v, want %d tokens each", rows, len(text))
	}
	if rows[0].Loss != rows[1].Loss || !(rows[0].Loss > 0) {
		t.Errorf("text loss %v, ids loss %v: want equal and positive", rows[0].Loss, rows[1].Loss)
	}
}

func TestEvalErrors(t *testing.T) {
	base := filepath.Join(testbedDir, "models/base")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"prompt\": \"x\"}\n"), 0o644)
	long := filepath.Join(dir, "long.jsonl")
	os.WriteFile(long, []byte(`{"prompt_ids": [`+strings.Repeat("1,", 70)+`1], "answer_ids": [2]}`+"\n"), 0o644)
	oov := filepath.Join(dir, "oov.jsonl")
	os.WriteFile(oov, []byte(`{"ids": [256, 300]}`+"\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"eval", base}, `"data" not set`},
		{[]string{"eval", base, "--data", bad}, "bad.jsonl:1: record has neither"},
		{[]string{"eval", base, "--data", long}, "long.jsonl:1: 72 tokens exceed the context of 64"},
		{[]string{"eval", base, "--data", oov}, "token id 300 is outside the vocabulary"},
		{[]string{"eval", base, "--data", bad, "--format", "csv"}, `--format "csv"`},
		{[]string{"eval", filepath.Join(dir, "missing"), "--data", bad}, "missing"},
		{[]string{"eval", base, "--data", filepath.Join(dir, "none.txt")}, "none.txt"},
	}
	for _, c := range cases {
		out, errs, code := runCLI(t, c.args...)
		if code == 0 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want failure mentioning %q", c.args, code, out, errs, c.want)
		}
	}
}
