package merge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/gomerge/gomerge/formats"
)

// MissingPolicy says what to do with a tensor that some inputs lack.
type MissingPolicy int

// Missing-tensor policies (as mergekit-pytorch's flags).
const (
	// MissingError lists every tensor some input lacks, in one error.
	MissingError MissingPolicy = iota
	// MissingIntersection skips tensors that some input lacks.
	MissingIntersection
	// MissingUnion merges each tensor from the inputs that have it.
	MissingUnion
)

// ParseMissingPolicy parses "error", "intersection" or "union".
func ParseMissingPolicy(s string) (MissingPolicy, error) {
	switch s {
	case "", "error":
		return MissingError, nil
	case "intersection":
		return MissingIntersection, nil
	case "union":
		return MissingUnion, nil
	}
	return 0, fmt.Errorf("unknown missing-tensor policy %q (want error, intersection or union)", s)
}

// ParamResolver gives the parameters of one tensor. Recipes implement it
// with gradients and filters; the CLI's parameters are the same for every
// tensor (ConstParams).
type ParamResolver interface {
	Resolve(tensor string, layer int) (global Params, perModel []Params, err error)
}

// ConstParams resolves every tensor to the same parameters.
type ConstParams struct {
	Global   Params
	PerModel []Params
}

// Resolve implements ParamResolver.
func (c ConstParams) Resolve(string, int) (Params, []Params, error) {
	return c.Global, c.PerModel, nil
}

// Config describes a merge of models with one method.
type Config struct {
	Spec *MethodSpec
	// Params gives each tensor's parameters before defaults.
	Params ParamResolver
	// Base is the base model, nil for none.
	Base *formats.Model
	// Models are the inputs besides the base.
	Models []*formats.Model
	// OutDType forces the output dtype; "" keeps each tensor's base dtype.
	OutDType formats.DType
	Seed     uint64
	Threads  int
	Missing  MissingPolicy
	// Exclude: tensors whose names match keep the base's values.
	Exclude []*regexp.Regexp
	// Warn receives warnings (nil: discarded).
	Warn io.Writer
	// Tensors, if non-nil, lists the output tensors and where each comes
	// from (slices, frankenmerges, renumbered layers). When nil, the output
	// has the union of the inputs' tensor names, each read under its own
	// name from every model.
	Tensors []TensorMap
}

// TensorMap is one output tensor of an explicit layout.
type TensorMap struct {
	// Out is the output tensor name.
	Out string
	// Layer is the output layer index (-1 for non-layer tensors).
	Layer int
	// In names the source tensor in each model: In[0] is the base's when
	// Config.Base is set, then one per Config.Models entry; "" means the
	// model does not take part in this tensor.
	In []string
}

// Plan is the list of tasks of a merge and the output tensors they fill.
type Plan struct {
	Tasks []*Task
	Specs []formats.TensorSpec
	// Method names the method for --dry-run.
	Method string
	// ChunkBuffers estimates how many chunk buffers a worker holds at once.
	ChunkBuffers int
}

func warnf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, "warning: "+format+"\n", args...)
	}
}

// PlanMerge checks that the inputs are compatible — same tensor names (per
// the missing-tensor policy), same shapes except token embeddings, which are
// cropped with a warning — and resolves every tensor's parameters. It reads
// no tensor data. Every problem is reported in one error.
func PlanMerge(cfg *Config) (*Plan, error) {
	spec := cfg.Spec
	if spec.Base == BaseRequired && cfg.Base == nil {
		return nil, fmt.Errorf("method %s needs a base model", spec.Name)
	}
	if cfg.Tensors == nil {
		if err := checkModelCount(spec, len(cfg.Models)); err != nil {
			return nil, err
		}
	}
	all := cfg.Models
	if cfg.Base != nil {
		all = append([]*formats.Model{cfg.Base}, cfg.Models...)
	}
	ref := all[0]
	layout := cfg.Tensors
	if layout == nil {
		layout = defaultLayout(all)
	}
	var problems []string
	plan := &Plan{Method: spec.Name, ChunkBuffers: len(all) + 2}
	methods := map[string]Method{} // by formatted global params
	for _, tm := range layout {
		name := tm.Out
		if len(tm.In) != len(all) {
			return nil, fmt.Errorf("tensor %q: layout names %d sources for %d models", name, len(tm.In), len(all))
		}
		tensors := make([]*formats.Tensor, len(all))
		missing := []string{}
		for i, m := range all {
			src := tm.In[i]
			if src == "" {
				continue
			}
			t, ok := m.Tensor(src)
			if !ok && strings.HasSuffix(src, "lm_head.weight") {
				// Tied embeddings: read the embedding matrix instead.
				t, ok = m.Tensor(strings.TrimSuffix(src, "lm_head.weight") + "model.embed_tokens.weight")
			}
			if !ok {
				missing = append(missing, fmt.Sprintf("%s (as %q)", m.Path, src))
				continue
			}
			tensors[i] = t
		}
		if countNonNil(tensors) == 0 && len(missing) == 0 {
			return nil, fmt.Errorf("tensor %q: layout gives no source", name)
		}
		if len(missing) > 0 {
			switch cfg.Missing {
			case MissingError:
				problems = append(problems, fmt.Sprintf("tensor %q is missing from %s", name, strings.Join(missing, ", ")))
				continue
			case MissingIntersection:
				continue
			}
		}
		first := firstNonNil(tensors)
		if first == nil {
			continue
		}
		excluded := matchAny(cfg.Exclude, name)
		layer := tm.Layer
		// Non-float tensors, excluded tensors and tensors only one input has
		// are copied.
		if !first.DType.IsFloat() || excluded || (countNonNil(tensors) == 1 && len(all) > 1 && cfg.Tensors == nil) ||
			(cfg.Base != nil && tensors[0] != nil && countNonNil(tensors[1:]) == 0) {
			src := first
			if cfg.Base != nil && tensors[0] != nil {
				src = tensors[0]
			}
			why := "copied from " + src.File
			if excluded {
				why = "excluded: " + why
			}
			outDT := outDType(cfg.OutDType, src.DType)
			plan.Tasks = append(plan.Tasks, &Task{Name: name, Shape: src.Shape, Layer: layer, Copy: src, Source: why})
			plan.Specs = append(plan.Specs, formats.TensorSpec{Name: name, DType: outDT, Shape: src.Shape})
			continue
		}
		if cfg.Base != nil && tensors[0] == nil && spec.Base == BaseRequired {
			problems = append(problems, fmt.Sprintf("tensor %q: the base model %s has no source for it", name, cfg.Base.Path))
			continue
		}
		// Shapes.
		shape, crop, perr := reconcileShapes(name, all, tensors, spec.TaskVector && cfg.Base != nil)
		if perr != "" {
			problems = append(problems, perr)
			continue
		}
		if crop {
			warnf(cfg.Warn, "tensor %q: token embedding shapes differ; using the %v sub-matrix", name, shape)
		}
		var srcs []Source
		for _, t := range tensors {
			if t == nil {
				srcs = append(srcs, nil)
				continue
			}
			var c []int64
			if crop {
				c = shape
			}
			s, err := NewSource(t, c)
			if err != nil {
				problems = append(problems, err.Error())
				break
			}
			srcs = append(srcs, s)
		}
		if len(srcs) != len(tensors) {
			continue
		}
		g, pm, err := cfg.Params.Resolve(name, layer)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		g, err = spec.WithDefaults(g, false, fmt.Sprintf("tensor %q", name))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		task := &Task{Name: name, Shape: shape, Layer: layer, Global: g, Seed: cfg.Seed, Warn: cfg.Warn}
		base := 0
		if cfg.Base != nil {
			if srcs[0] != nil {
				task.Base = srcs[0]
			}
			base = 1
		}
		for k, s := range srcs[base:] {
			if s == nil { // union policy: this model lacks the tensor
				continue
			}
			var p Params
			if k < len(pm) {
				p = pm[k]
			}
			p, err = spec.WithDefaults(p, true, fmt.Sprintf("tensor %q, model %s", name, all[base+k].Path))
			if err != nil {
				problems = append(problems, err.Error())
				break
			}
			task.Inputs = append(task.Inputs, s)
			task.Model = append(task.Model, p)
			task.InputModel = append(task.InputModel, k)
		}
		if cfg.Tensors != nil {
			// Explicit layouts (slices) may use different models per tensor.
			if err := checkModelCount(spec, len(task.Inputs)); err != nil {
				problems = append(problems, fmt.Sprintf("tensor %q: %v", name, err))
				continue
			}
		}
		key := g.Format()
		m, ok := methods[key]
		if !ok {
			m, err = spec.New(g)
			if err != nil {
				problems = append(problems, withTensor(name, err))
				continue
			}
			methods[key] = m
		}
		task.Method = m
		if c, ok := m.(Checker); ok {
			if err := c.Check(task); err != nil {
				problems = append(problems, withTensor(name, err))
				continue
			}
		}
		task.Source = fmt.Sprintf("%s(%d models) %s", spec.Name, len(task.Inputs), g.Format())
		baseDT := first.DType
		if cfg.Base != nil && tensors[0] != nil {
			baseDT = tensors[0].DType
		}
		plan.Tasks = append(plan.Tasks, task)
		plan.Specs = append(plan.Specs, formats.TensorSpec{Name: name, DType: outDType(cfg.OutDType, baseDT), Shape: shape})
	}
	if len(problems) > 0 {
		if len(problems) > 12 {
			problems = append(problems[:12], fmt.Sprintf("… and %d more", len(problems)-12))
		}
		return nil, fmt.Errorf("the models cannot be merged:\n  %s", strings.Join(problems, "\n  "))
	}
	if len(plan.Tasks) == 0 {
		return nil, fmt.Errorf("no tensors to merge (inputs %s … share none)", ref.Path)
	}
	return plan, nil
}

// withTensor prefixes an error with the tensor name unless it names it.
func withTensor(name string, err error) string {
	if strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
		return err.Error()
	}
	return fmt.Sprintf("tensor %q: %v", name, err)
}

func checkModelCount(spec *MethodSpec, n int) error {
	if n >= spec.MinModels && (spec.MaxModels == 0 || n <= spec.MaxModels) {
		return nil
	}
	switch {
	case spec.MaxModels == spec.MinModels:
		return fmt.Errorf("method %s takes exactly %d model(s) besides the base, got %d", spec.Name, spec.MinModels, n)
	case n < spec.MinModels:
		return fmt.Errorf("method %s takes at least %d model(s) besides the base, got %d", spec.Name, spec.MinModels, n)
	}
	return fmt.Errorf("method %s takes at most %d model(s) besides the base, got %d", spec.Name, spec.MaxModels, n)
}

func outDType(forced, stored formats.DType) formats.DType {
	if !stored.IsFloat() {
		return stored
	}
	if forced != "" {
		return forced
	}
	if stored.Writable() {
		return stored
	}
	return formats.BF16
}

func firstNonNil(ts []*formats.Tensor) *formats.Tensor {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}

func countNonNil(ts []*formats.Tensor) int {
	n := 0
	for _, t := range ts {
		if t != nil {
			n++
		}
	}
	return n
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// defaultLayout is the union of the models' tensor names in sorted order,
// each read under its own name.
func defaultLayout(all []*formats.Model) []TensorMap {
	names := map[string]bool{}
	for _, m := range all {
		for _, n := range m.Names() {
			names[n] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	out := make([]TensorMap, len(sorted))
	for i, n := range sorted {
		in := make([]string, len(all))
		for k := range in {
			in[k] = n
		}
		out[i] = TensorMap{Out: n, Layer: LayerIndex(n), In: in}
	}
	return out
}

// reconcileShapes returns the shape to merge at and whether sources must be
// cropped, or a problem description.
func reconcileShapes(name string, models []*formats.Model, ts []*formats.Tensor, toBase bool) ([]int64, bool, string) {
	first := firstNonNil(ts)
	same := true
	for _, t := range ts {
		if t != nil && !slices.Equal(t.Shape, first.Shape) {
			same = false
		}
	}
	if same {
		return first.Shape, false, ""
	}
	var desc []string
	for i, t := range ts {
		if t != nil {
			desc = append(desc, fmt.Sprintf("%v in %s", t.Shape, models[i].Path))
		}
	}
	if !IsEmbedding(name) || len(first.Shape) != 2 {
		return nil, false, fmt.Sprintf("tensor %q has different shapes: %s", name, strings.Join(desc, ", "))
	}
	var shape []int64
	if toBase && ts[0] != nil {
		shape = append([]int64{}, ts[0].Shape...)
		for _, t := range ts {
			if t != nil && (len(t.Shape) != 2 || t.Shape[0] < shape[0] || t.Shape[1] < shape[1]) {
				return nil, false, fmt.Sprintf("tensor %q: a model's embedding is smaller than the base's: %s", name, strings.Join(desc, ", "))
			}
		}
		return shape, true, ""
	}
	shape = append([]int64{}, first.Shape...)
	for _, t := range ts {
		if t == nil {
			continue
		}
		if len(t.Shape) != 2 {
			return nil, false, fmt.Sprintf("tensor %q has different ranks: %s", name, strings.Join(desc, ", "))
		}
		shape[0] = min(shape[0], t.Shape[0])
		shape[1] = min(shape[1], t.Shape[1])
	}
	return shape, true, ""
}

// ExecOptions configure Execute.
type ExecOptions struct {
	Threads int
	// Progress, if set, is called with the number of output bytes finished
	// (from any goroutine).
	Progress func(bytes int64)
}

// Execute runs every task of the plan into w, which must have been created
// with plan.Specs. Whole-model methods' Prepare runs first. Tensors larger
// than a chunk run one after another with parallel chunks; smaller ones run
// in parallel with each other. Output positions are fixed, so the result does
// not depend on the thread count.
func Execute(ctx context.Context, plan *Plan, w *formats.Writer, opts ExecOptions) error {
	threads := max(opts.Threads, 1)
	specs := map[string]formats.TensorSpec{}
	for _, s := range plan.Specs {
		specs[s.Name] = s
	}
	// Wire sinks.
	byMethod := map[Method][]*Task{}
	var order []Method
	for _, t := range plan.Tasks {
		spec, ok := specs[t.Name]
		if !ok {
			return fmt.Errorf("tensor %q: not declared in the output", t.Name)
		}
		t.out = w
		t.outDT = spec.DType
		esz := int64(spec.DType.Size())
		if t.Out == nil {
			t.Out = &writerSink{w: w, name: t.Name, done: func(n int64) {
				if opts.Progress != nil {
					opts.Progress(n * esz)
				}
			}}
		}
		if t.Method != nil {
			if _, seen := byMethod[t.Method]; !seen {
				order = append(order, t.Method)
			}
			byMethod[t.Method] = append(byMethod[t.Method], t)
		}
	}
	for _, m := range order {
		if p, ok := m.(Preparer); ok {
			for _, t := range byMethod[m] {
				t.threads = threads
			}
			if err := p.Prepare(ctx, byMethod[m]); err != nil {
				return err
			}
		}
	}
	var large, small []*Task
	for _, t := range plan.Tasks {
		if t.Len() > ChunkElems {
			large = append(large, t)
		} else {
			small = append(small, t)
		}
	}
	run := func(t *Task, threads int) error {
		t.threads = threads
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if t.Method == nil {
			err = t.copyThrough(ctx, opts.Progress)
		} else {
			err = t.Method.Merge(ctx, t)
		}
		if err != nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), t.Name) {
			err = fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		return err
	}
	for _, t := range large {
		if err := run(t, threads); err != nil {
			return err
		}
	}
	chunks := make([]Chunk, len(small))
	for i := range small {
		chunks[i] = Chunk{Index: i}
	}
	return Parallel(ctx, threads, chunks, func(c Chunk) error { return run(small[c.Index], 1) })
}

// copyThrough copies t.Copy into the output: byte for byte when the dtypes
// agree, converted through float32 otherwise.
func (t *Task) copyThrough(ctx context.Context, progress func(int64)) error {
	src := t.Copy
	if src.DType == t.outDT {
		const step = 8 << 20
		buf := make([]byte, min(step, src.Size))
		for off := int64(0); off < src.Size; off += step {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := buf[:min(step, src.Size-off)]
			if err := src.ReadAt(b, off); err != nil {
				return err
			}
			if err := t.out.WriteAt(t.Name, b, off); err != nil {
				return err
			}
			if progress != nil {
				progress(int64(len(b)))
			}
		}
		return nil
	}
	s, err := NewSource(src, nil)
	if err != nil {
		return err
	}
	return t.ForChunks(ctx, 1, func(c Chunk) error {
		buf := GetFloats(c.Len())
		defer PutFloats(buf)
		if err := s.Read(buf, c.Lo); err != nil {
			return err
		}
		return t.Out.Write(buf, c.Lo)
	})
}
