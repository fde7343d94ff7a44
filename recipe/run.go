package recipe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// StampFile records, inside an intermediate output, what it was computed
// from, so an up-to-date intermediate is not computed again.
const StampFile = ".gomerge-recipe-stamp"

// Options configure Run.
type Options struct {
	Env
	// Out is the final document's output directory (or file).
	Out string
	// IntermediateDir holds the outputs of all but the last document.
	IntermediateDir string
	Write           formats.WriteOptions
	Threads         int
	// DryRun, if set, receives the plans instead of writing anything.
	DryRun io.Writer
	// Log receives progress messages (which documents run or are skipped).
	Log io.Writer
	// Warn receives warnings.
	Warn io.Writer
	// Progress makes a byte-progress callback for a merge of total bytes.
	Progress func(total int64, what string) (func(int64), func())
}

// Run validates and runs every document of a recipe in order. A document
// is fully validated (including its models' headers) before any tensor is
// read; with several documents all but the last write into
// IntermediateDir/NAME and may be used as models by later ones.
func Run(ctx context.Context, docs []*Recipe, opts Options) error {
	if len(docs) > 1 && opts.IntermediateDir == "" && opts.DryRun == nil {
		return fmt.Errorf("%s: a multi-document recipe needs --intermediate-dir", docs[0].File)
	}
	named := map[string]string{}
	for k, v := range opts.Named {
		named[k] = v
	}
	for i, r := range docs {
		last := i == len(docs)-1
		out := opts.Out
		if !last {
			out = filepath.Join(opts.IntermediateDir, r.Name)
		}
		env := opts.Env
		env.Named = named
		job, err := Plan(r, env)
		if err != nil {
			return err
		}
		err = runJob(ctx, job, out, last, opts)
		job.Close()
		if err != nil {
			return err
		}
		if r.Name != "" {
			named[r.Name] = out
		}
	}
	return nil
}

func runJob(ctx context.Context, job *Job, out string, last bool, opts Options) error {
	cfg := job.Config
	cfg.Threads = opts.Threads
	cfg.Warn = opts.Warn
	stamp := job.stamp(opts)
	label := job.Recipe.Name
	if label == "" {
		label = job.Spec.Name
	}
	if !last && opts.DryRun == nil {
		if old, err := os.ReadFile(filepath.Join(out, StampFile)); err == nil && string(old) == stamp {
			if opts.Log != nil {
				fmt.Fprintf(opts.Log, "%s: %s is up to date\n", label, out)
			}
			return nil
		}
	}
	plan, err := merge.PlanMerge(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", job.Recipe.File, err)
	}
	if opts.DryRun != nil {
		fmt.Fprintf(opts.DryRun, "# %s → %s\n", label, out)
		merge.PrintPlan(opts.DryRun, plan, opts.Threads)
		return nil
	}
	if opts.Log != nil && !last {
		fmt.Fprintf(opts.Log, "%s: merging into %s\n", label, out)
	}
	files := job.Files
	if !last {
		files = copyFiles(files)
		// The stamp goes in with everything else, atomically.
		files[StampFile] = []byte(stamp)
	}
	output := merge.Output{Path: out, Write: opts.Write, CopyFrom: job.CopyFrom, Files: files}
	if job.OutLayers > 0 {
		n := job.OutLayers
		output.ConfigEdit = func(c map[string]any) { c["num_hidden_layers"] = n }
	}
	var prog func(int64)
	finish := func() {}
	if opts.Progress != nil {
		var total int64
		for _, s := range plan.Specs {
			total += s.Size()
		}
		prog, finish = opts.Progress(total, label)
	}
	defer finish()
	w := opts.Write
	w.Inputs = append(append([]string{}, w.Inputs...), job.inputPaths()...)
	output.Write = w
	return merge.Write(ctx, plan, output, merge.ExecOptions{Threads: opts.Threads, Progress: prog})
}

func copyFiles(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (j *Job) inputPaths() []string {
	var out []string
	for _, p := range j.Paths {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// stamp hashes the document, the overrides and the identity (path, size,
// modification time) of every input shard.
func (j *Job) stamp(opts Options) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00dtype=%s seed=%d\x00", j.Recipe.Text, opts.DType, opts.Seed)
	for _, m := range j.Models {
		for _, s := range m.Shards() {
			if st, err := os.Stat(s); err == nil {
				fmt.Fprintf(h, "%s %d %d\x00", s, st.Size(), st.ModTime().UnixNano())
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)) + "\n"
}
