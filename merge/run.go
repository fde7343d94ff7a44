package merge

import (
	"context"
	"fmt"
	"io"

	"github.com/gomerge/gomerge/formats"
)

// Output describes where and how a merge is written.
type Output struct {
	// Path is "-", a .safetensors file or a directory.
	Path  string
	Write formats.WriteOptions
	// CopyFrom supplies config.json, generation_config.json and tokenizer
	// files for a directory output (nil: none).
	CopyFrom *formats.Model
	// ConfigEdit, if set, edits the parsed config.json before it is written.
	ConfigEdit func(cfg map[string]any)
	// Files are extra files for a directory output (model card, recipe).
	Files map[string][]byte
}

// PrintPlan writes a --dry-run description of the plan: every tensor with
// its method and resolved parameters, the output size and an estimate of the
// peak memory of the merge.
func PrintPlan(w io.Writer, plan *Plan, threads int) {
	var total int64
	for i, t := range plan.Tasks {
		s := plan.Specs[i]
		total += s.Size()
		fmt.Fprintf(w, "%-52s %-4s %-14s %s\n", t.Name, s.DType, fmt.Sprint(s.Shape), t.Source)
		for k, p := range t.Model {
			if len(p) > 0 {
				fmt.Fprintf(w, "%52s   model %d: %s\n", "", k, p.Format())
			}
		}
	}
	peak := int64(max(threads, 1)) * int64(plan.ChunkBuffers) * ChunkElems * 4 * 2
	fmt.Fprintf(w, "\n%d tensors, output %s, estimated peak memory %s (%d threads × %d chunk buffers)\n",
		len(plan.Tasks), HumanBytes(total), HumanBytes(peak), max(threads, 1), plan.ChunkBuffers)
}

// HumanBytes formats a byte count with binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Write creates the output for plan, runs it and commits it; on any error
// or cancellation the temporary files are removed and an existing target is
// left untouched.
func Write(ctx context.Context, plan *Plan, out Output, opts ExecOptions) error {
	w, err := formats.Create(out.Path, plan.Specs, out.Write)
	if err != nil {
		return err
	}
	defer w.Abort()
	if w.IsDir() {
		if out.CopyFrom != nil {
			dt := dominantDType(plan.Specs)
			if err := formats.CopyModelFiles(w, out.CopyFrom, dt, out.ConfigEdit); err != nil {
				return err
			}
		}
		for n, b := range out.Files {
			w.AddFile(n, b)
		}
	}
	if err := Execute(ctx, plan, w, opts); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return w.Commit()
}

// dominantDType is the float dtype holding the most bytes of the output.
func dominantDType(specs []formats.TensorSpec) formats.DType {
	by := map[formats.DType]int64{}
	best := formats.DType("")
	for _, s := range specs {
		if s.DType.IsFloat() {
			by[s.DType] += s.Size()
			if best == "" || by[s.DType] > by[best] {
				best = s.DType
			}
		}
	}
	return best
}
