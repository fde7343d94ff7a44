package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// outputFlags are the flags of every command that writes a checkpoint.
type outputFlags struct {
	Out       string
	DType     string
	ShardSize string
	Sync      bool
	CopyFrom  string
}

func (o *outputFlags) register(c *cobra.Command) {
	o.registerOptional(c)
	c.MarkFlagRequired("output")
}

// registerOptional registers the flags without making -o required (for
// commands whose --dry-run writes nothing).
func (o *outputFlags) registerOptional(c *cobra.Command) {
	f := c.Flags()
	f.StringVarP(&o.Out, "output", "o", "", `output: a .safetensors file, a directory, or "-" for standard output (required)`)
	f.StringVar(&o.DType, "dtype", "", "output dtype: bf16, f16, f32 or f64 (default: the base model's)")
	f.StringVar(&o.ShardSize, "shard-size", "5GB", "largest shard of a directory output, e.g. 500MB, 2GiB; 0 disables sharding")
	f.BoolVar(&o.Sync, "sync", false, "fsync the output before renaming it into place")
	f.StringVar(&o.CopyFrom, "copy-from", "", "model whose config.json and tokenizer files a directory output gets (default: the base, else the first model)")
	c.RegisterFlagCompletionFunc("copy-from", completeModels)
	c.RegisterFlagCompletionFunc("output", completeModels)
}

func (o *outputFlags) dtype() (formats.DType, error) {
	if o.DType == "" {
		return "", nil
	}
	d, err := formats.ParseDType(o.DType)
	if err != nil {
		return "", err
	}
	if !d.Writable() {
		return "", fmt.Errorf("--dtype %s: gomerge writes bf16, f16, f32 or f64", o.DType)
	}
	return d, nil
}

func (o *outputFlags) writeOptions(g *Globals, inputs []string) (formats.WriteOptions, error) {
	n, err := formats.ParseSize(o.ShardSize)
	if err != nil {
		return formats.WriteOptions{}, fmt.Errorf("--shard-size: %w", err)
	}
	if n == 0 {
		n = -1
	}
	return formats.WriteOptions{ShardSize: n, Sync: o.Sync, Inputs: inputs, Stdout: g.Stdout}, nil
}

// openModels opens model arguments; "-" may appear once.
func openModels(ctx context.Context, g *Globals, paths []string) ([]*formats.Model, func(), error) {
	var ms []*formats.Model
	closeAll := func() {
		for _, m := range ms {
			m.Close()
		}
	}
	stdinUsed := false
	for _, p := range paths {
		if p == "-" {
			if stdinUsed {
				closeAll()
				return nil, nil, fmt.Errorf(`standard input ("-") can be given only once`)
			}
			stdinUsed = true
		}
		m, err := formats.OpenContext(ctx, p, g.Stdin)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		ms = append(ms, m)
	}
	return ms, closeAll, nil
}

// progress returns a byte-progress callback drawing a bar on stderr when it
// is a terminal and --quiet is off, and a function that finishes the bar.
func progress(g *Globals, total int64, what string) (func(int64), func()) {
	f, ok := g.Stderr.(*os.File)
	if g.Quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetDescription(what),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
	return func(n int64) { bar.Add64(n) }, func() { bar.Finish() }
}

// warnWriter is where warnings go: stderr unless --quiet.
func warnWriter(g *Globals) io.Writer {
	if g.Quiet {
		return nil
	}
	return g.Stderr
}

func compileRegexps(exprs []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, e := range exprs {
		re, err := regexp.Compile(e)
		if err != nil {
			return nil, fmt.Errorf("--exclude %q: %w", e, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// totalBytes sums the output size of a plan.
func totalBytes(p *merge.Plan) int64 {
	var n int64
	for _, s := range p.Specs {
		n += s.Size()
	}
	return n
}
