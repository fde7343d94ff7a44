package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomerge/gomerge/simd"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Run(context.Background(), args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

func TestVersionPrintsSIMDLevel(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := run(args...)
		if code != 0 || !strings.Contains(out, "gomerge ") || !strings.Contains(out, "simd "+simd.Level()) {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

func TestCompletionOffersModelFiles(t *testing.T) {
	code, out, _ := run("__complete", "ties", "")
	// ShellCompDirectiveFilterFileExt (8): complete .safetensors files and directories.
	if code != 0 || !strings.Contains(out, "safetensors") || !strings.Contains(out, ":8") {
		t.Errorf("exit %d, %q", code, out)
	}
}

func TestDryRunPrintsPlanAndWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "never")
	code, stdout, stderr := run("ties", testbed+"base", testbed+"expert_add", testbed+"expert_rev", "--weight", "1,0.5", "--density", "0.5", "--dry-run", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"model.layers.5.mlp.down_proj.weight", "model 1: density=0.5 weight=0.5", "57 tensors, output 4.8 MiB", "estimated peak memory"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("--dry-run wrote output")
	}
}

func TestMethodArgumentErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"ties", testbed + "base", "-o", dir + "/x"}, "ties needs a base and at least one model"},
		{[]string{"ties", testbed + "base", testbed + "expert_add", testbed + "expert_rev", "--weight", "1,2,3", "-o", dir + "/x"}, "--weight has 3 values for 2 models"},
		{[]string{"ties", testbed + "base", testbed + "expert_add", "--weight", "heavy", "-o", dir + "/x"}, `--weight "heavy": not a number`},
		{[]string{"ties", testbed + "base", dir + "/nope", "--weight", "1", "-o", dir + "/x"}, "no such file or directory"},
		{[]string{"ties", testbed + "base", testbed + "expert_add", "--weight", "1"}, "-o/--output is required"},
		{[]string{"linear", "--base", testbed + "base", testbed + "expert_add", "--weight", "1", "-o", dir + "/x"}, "linear does not use a base model"},
		{[]string{"ties", testbed + "base", testbed + "expert_add", "--weight", "1", "--dtype", "f8", "-o", dir + "/x"}, `unknown dtype "f8"`},
		{[]string{"ties", testbed + "base", testbed + "expert_add", "--weight", "1", "--exclude", "(", "-o", dir + "/x"}, `--exclude "("`},
		{[]string{"ta", testbed + "base", testbed + "expert_add", "--weight", "1", "-o", testbed + "expert_add/model.safetensors"}, "would overwrite the input"},
	}
	for _, c := range cases {
		code, _, stderr := run(c.args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
		if _, err := os.Stat(dir + "/x"); !os.IsNotExist(err) {
			t.Errorf("%v: output written despite the error", c.args)
		}
	}
}
