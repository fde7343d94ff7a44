package cmd

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var rewriteFormats = flag.Bool("rewrite-formats", false, "rewrite cmd/testdata/formats/*.txt with the actual output")

// TestFormatsScripts runs the data-driven CLI tests of inspect and convert
// in testdata/formats/*.txt. Each case is a command line, a "----" line,
// the expected output and a "====" line. Commands are "gomerge ARGS"
// (optionally "< FILE" for standard input and "> FILE" for standard
// output), "ls DIR", "cat FILE", "write FILE TEXT" and "cmp A B". The output is standard
// output, then standard error, then "[exit N]" for a non-zero code. $TMP is
// a temporary directory shared by the cases of one file, $FIX the fixtures
// in ../testdata/formats and $TESTBED the trained test checkpoints.
// go test ./cmd -run TestFormatsScripts -rewrite-formats regenerates them.
func TestFormatsScripts(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "formats", "*.txt"))
	if len(files) == 0 {
		t.Fatal("no scripts")
	}
	fix, _ := filepath.Abs(filepath.Join("..", "testdata", "formats"))
	testbed, _ := filepath.Abs(filepath.Join("..", "testdata", "testbed"))
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			tmp := t.TempDir()
			vars := strings.NewReplacer("$TMP", tmp, "$FIX", fix, "$TESTBED", testbed)
			unvars := strings.NewReplacer(tmp, "$TMP", fix, "$FIX", testbed, "$TESTBED")
			cases, err := parseScript(file)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for _, c := range cases {
				got := unvars.Replace(runScriptCommand(t, vars.Replace(c.cmd)))
				if !*rewriteFormats && got != c.want {
					t.Errorf("%s:%d: %s\n--- got\n%s--- want\n%s", file, c.line, c.cmd, got, c.want)
				}
				fmt.Fprintf(&out, "%s%s\n----\n%s====\n", c.comment, c.cmd, got)
			}
			if *rewriteFormats {
				if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

type scriptCase struct {
	comment, cmd, want string
	line               int
}

func parseScript(file string) ([]scriptCase, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	lines := strings.SplitAfter(string(data), "\n")
	var cases []scriptCase
	var comment strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "#") || strings.TrimSpace(l) == "" {
			comment.WriteString(l)
			continue
		}
		c := scriptCase{comment: comment.String(), cmd: strings.TrimRight(l, "\n"), line: i + 1}
		comment.Reset()
		if i+1 >= len(lines) || lines[i+1] != "----\n" {
			return nil, fmt.Errorf("%s:%d: want ---- after the command", file, i+1)
		}
		i += 2
		var want strings.Builder
		for ; i < len(lines) && lines[i] != "====\n"; i++ {
			want.WriteString(lines[i])
		}
		if i >= len(lines) {
			return nil, fmt.Errorf("%s:%d: unterminated case (want ====)", file, c.line)
		}
		c.want = want.String()
		cases = append(cases, c)
	}
	return cases, nil
}

// runScriptCommand runs one command and returns its recorded output.
func runScriptCommand(t *testing.T, line string) string {
	t.Helper()
	f := strings.Fields(line)
	switch f[0] {
	case "ls":
		ents, err := os.ReadDir(f[1])
		if err != nil {
			return err.Error() + "\n"
		}
		var b strings.Builder
		for _, e := range ents {
			info, _ := e.Info()
			fmt.Fprintf(&b, "%s %d %v\n", e.Name(), info.Size(), info.Mode().Perm())
		}
		return b.String()
	case "cat":
		data, err := os.ReadFile(f[1])
		if err != nil {
			return err.Error() + "\n"
		}
		return string(data)
	case "write": // write FILE TEXT...: creates FILE (and its directory)
		os.MkdirAll(filepath.Dir(f[1]), 0o755)
		if err := os.WriteFile(f[1], []byte(strings.Join(f[2:], " ")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return ""
	case "cmp":
		a, err1 := os.ReadFile(f[1])
		b, err2 := os.ReadFile(f[2])
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			return fmt.Sprintf("differ (%v, %v)\n", err1, err2)
		}
		return "same\n"
	case "gomerge":
	default:
		t.Fatalf("unknown command %q", f[0])
	}
	var args []string
	var stdin io.Reader = strings.NewReader("")
	var stdoutFile string
	for i := 1; i < len(f); i++ {
		switch f[i] {
		case "<":
			data, err := os.ReadFile(f[i+1])
			if err != nil {
				t.Fatal(err)
			}
			stdin = bytes.NewReader(data)
			i++
		case ">":
			stdoutFile = f[i+1]
			i++
		default:
			args = append(args, f[i])
		}
	}
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), append([]string{"-q"}, args...), stdin, &stdout, &stderr)
	var b strings.Builder
	if stdoutFile != "" {
		if err := os.WriteFile(stdoutFile, stdout.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		b.Write(stdout.Bytes())
	}
	b.Write(stderr.Bytes())
	if code != 0 {
		fmt.Fprintf(&b, "[exit %d]\n", code)
	}
	return b.String()
}

// TestConvertCancelled runs convert under a cancelled context: exit code
// 130, the interruption message, and no output.
func TestConvertCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	src := filepath.Join("..", "testdata", "formats", "good-mixed.safetensors")
	code := Run(ctx, []string{"convert", src, "-o", filepath.Join(dir, "out")}, nil, &stdout, &stderr)
	if code != 130 || stderr.String() != "gomerge: interrupted; no output was written\n" {
		t.Errorf("code %d, stderr %q", code, stderr.String())
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if len(names) != 0 {
		t.Errorf("output directory holds %v", names)
	}
}
