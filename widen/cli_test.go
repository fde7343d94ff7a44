package widen_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/cmd"
	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/widen"
)

// writeFamily writes the test family as bf16 files base, a and b.
func writeFamily(t *testing.T, dir string) []string {
	var paths []string
	for k, f := range widen.TestFamily(11, false) {
		p := filepath.Join(dir, []string{"base", "a", "b"}[k]+".safetensors")
		widen.WriteCheckpoint(t, p, formats.BF16, f, 0)
		paths = append(paths, p)
	}
	return paths
}

func run(args ...string) (int, string) {
	var stdout, stderr bytes.Buffer
	code := cmd.Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stderr.String()
}

func TestCLIMatchesEngine(t *testing.T) {
	dir := t.TempDir()
	paths := writeFamily(t, dir)
	want := filepath.Join(dir, "engine.safetensors")
	widen.MergeFiles(t, paths[0], paths[1:], merge.Params{"alpha": 2.0, "calibration": 0.5},
		[]*regexp.Regexp{regexp.MustCompile(`^lm_head\.`)}, 1, want)
	we := widen.OpenModel(t, want)
	for i, args := range [][]string{
		// The first model is the base when --base is omitted.
		{"widen", "-q", paths[0], paths[1], paths[2], "--alpha", "2", "--calibration", "0.5", "--exclude", `^lm_head\.`},
		{"widen", "-q", "-j", "2", "--base", paths[0], paths[1], paths[2], "--above-average-value-ratio", "2",
			"--score-calibration-value", "0.5", "--exclude", `^lm_head\.`},
	} {
		out := filepath.Join(dir, "cli"+string(rune('0'+i))+".safetensors")
		if code, stderr := run(append(args, "-o", out)...); code != 0 {
			t.Fatalf("gomerge %v: exit %d: %s", args, code, stderr)
		}
		got := widen.OpenModel(t, out)
		for _, name := range we.Names() {
			if !bytes.Equal(widen.ReadRaw(t, got, name), widen.ReadRaw(t, we, name)) {
				t.Errorf("gomerge %v: tensor %s differs from the engine's merge", args[:3], name)
			}
		}
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	paths := writeFamily(t, dir)
	out := filepath.Join(dir, "out.safetensors")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"widen", paths[0], paths[1], "--alpha", "nan", "-o", out}, "alpha"},
		{[]string{"widen", paths[0], "-o", out}, "needs a base and at least one model"},
	} {
		code, stderr := run(tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("gomerge %v: exit %d, stderr %q; want failure mentioning %q", tc.args, code, stderr, tc.want)
		}
	}
	// A 3-D tensor fails the merge, names the tensor and leaves no output.
	cube := widen.NewNamedTensor("model.vision.patch_embed.weight", []int64{2, 3, 4}, make([]float32, 24))
	var three []string
	for k := range 3 {
		p := filepath.Join(dir, []string{"c0", "c1", "c2"}[k]+".safetensors")
		widen.WriteCheckpoint(t, p, formats.F32, []widen.NamedTensor{cube}, 0)
		three = append(three, p)
	}
	code, stderr := run("widen", "-q", three[0], three[1], three[2], "-o", out)
	if code == 0 || !strings.Contains(stderr, "model.vision.patch_embed.weight") {
		t.Errorf("3-D tensor: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed merge left %s behind", out)
	}
	// Excluding it makes the merge succeed (the tensor is the base's).
	if code, stderr := run("widen", "-q", three[0], three[1], three[2], "--exclude", "patch_embed", "-o", out); code != 0 {
		t.Errorf("with --exclude: exit %d: %s", code, stderr)
	}
}
