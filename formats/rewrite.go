package formats

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// ConvertOptions configure Convert.
type ConvertOptions struct {
	// DType is the dtype floating-point tensors are written as; "" keeps
	// each tensor's dtype. Integer and bool tensors are always copied byte
	// for byte.
	DType DType
	// Write configures the output (sharding, --sync, refused inputs,
	// standard output). The model's own path is always added to Inputs.
	Write WriteOptions
	// Threads is the number of worker goroutines (default GOMAXPROCS). The
	// output does not depend on it.
	Threads int
	// Progress, if set, is called from any goroutine with the number of
	// output bytes just finished.
	Progress func(bytes int64)
	// CopyFrom supplies config.json and the tokenizer files of a directory
	// output; nil means the converted model itself.
	CopyFrom *Model
}

// kernelCopy enables copy_file_range for same-dtype copies; tests turn it
// off to exercise the read-and-write path.
var kernelCopy = true

// convertChunk is the number of elements a conversion job handles; a
// same-dtype copy moves copyChunk bytes at a time.
const (
	convertChunk = 1 << 20
	copyChunk    = 8 << 20
)

// OutputSpecs returns the tensors Convert writes for m: every tensor in
// sorted name order, floating-point ones as dtype (unless dtype is "").
func OutputSpecs(m *Model, dtype DType) []TensorSpec {
	specs := make([]TensorSpec, 0, len(m.names))
	for _, n := range m.names {
		t := m.tensors[n]
		dt := t.DType
		if dtype != "" && dt.IsFloat() {
			dt = dtype
		}
		specs = append(specs, TensorSpec{Name: n, DType: dt, Shape: t.Shape})
	}
	return specs
}

// Convert rewrites m at path out ("-" for standard output, a .safetensors
// file, or a directory, sharded per opts.Write.ShardSize), converting
// floating-point tensors to opts.DType. Tensors whose dtype does not change
// are copied byte for byte; converted ones go through float32 with
// round-to-nearest-even. The input's __metadata__ is kept (with "format":
// "pt"). It streams chunk by chunk in bounded memory, and on error or
// cancellation leaves no output and any existing target untouched.
func Convert(ctx context.Context, m *Model, out string, opts ConvertOptions) error {
	if opts.DType != "" && !opts.DType.Writable() {
		return fmt.Errorf("cannot convert to %s: gomerge writes bf16, f16, f32 or f64", opts.DType)
	}
	specs := OutputSpecs(m, opts.DType)
	wo := opts.Write
	wo.Inputs = append(append([]string(nil), wo.Inputs...), m.Path)
	if len(m.Metadata) > 0 {
		md := map[string]string{}
		for k, v := range m.Metadata {
			md[k] = v
		}
		for k, v := range wo.Metadata {
			md[k] = v
		}
		wo.Metadata = md
	}
	w, err := Create(out, specs, wo)
	if err != nil {
		return err
	}
	defer w.Abort()
	if w.IsDir() {
		from := opts.CopyFrom
		if from == nil {
			from = m
		}
		if err := CopyModelFiles(w, from, dominantFloat(specs), nil); err != nil {
			return err
		}
	}
	if err := copyTensors(ctx, m, w, specs, opts.Threads, opts.Progress); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return w.Commit()
}

// dominantFloat is the floating-point dtype holding the most bytes.
func dominantFloat(specs []TensorSpec) DType {
	by := map[DType]int64{}
	best := DType("")
	for _, s := range specs {
		if s.DType.IsFloat() {
			by[s.DType] += s.Size()
			if best == "" || by[s.DType] > by[best] || (by[s.DType] == by[best] && s.DType < best) {
				best = s.DType
			}
		}
	}
	return best
}

// copyJob is one chunk of one tensor: elements [lo, hi).
type copyJob struct {
	src    *Tensor
	dst    TensorSpec
	lo, hi int64
}

// copyTensors fills w's tensors from m's tensors of the same names, in
// parallel chunks at fixed positions.
func copyTensors(ctx context.Context, m *Model, w *Writer, specs []TensorSpec, threads int, progress func(int64)) error {
	var jobs []copyJob
	for _, s := range specs {
		t, ok := m.Tensor(s.Name)
		if !ok {
			return fmt.Errorf("tensor %q: not in %s", s.Name, m.Path)
		}
		n := t.NumElements()
		step := int64(convertChunk)
		if t.DType == s.DType {
			step = copyChunk / int64(t.DType.Size())
		}
		if n == 0 {
			continue
		}
		for lo := int64(0); lo < n; lo += step {
			jobs = append(jobs, copyJob{src: t, dst: s, lo: lo, hi: min(lo+step, n)})
		}
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, max(len(jobs), 1))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, threads)
	for th := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var raw, enc []byte
			var f32 []float32
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(jobs)) {
					return
				}
				j := &jobs[i]
				var err error
				raw, enc, f32, err = j.run(w, raw, enc, f32)
				if err != nil {
					errs[th] = err
					cancel()
					return
				}
				if progress != nil {
					progress((j.hi - j.lo) * int64(j.dst.DType.Size()))
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// run copies or converts one chunk, reusing and returning the buffers.
func (j *copyJob) run(w *Writer, raw, enc []byte, f32 []float32) ([]byte, []byte, []float32, error) {
	n := int(j.hi - j.lo)
	sz := int64(j.src.DType.Size())
	nb := n * int(sz)
	if j.src.DType == j.dst.DType {
		if kernelCopy {
			if ok, err := w.copyFrom(j.dst.Name, j.src, j.lo*sz, int64(nb)); ok || err != nil {
				return raw, enc, f32, err
			}
		}
		if cap(raw) < nb {
			raw = make([]byte, nb)
		}
		b := raw[:nb]
		if err := j.src.ReadAt(b, j.lo*sz); err != nil {
			return raw, enc, f32, err
		}
		return raw, enc, f32, w.WriteAt(j.dst.Name, b, j.lo*sz)
	}
	if cap(f32) < n {
		f32 = make([]float32, n)
	}
	v := f32[:n]
	var err error
	if raw, err = j.src.ReadFloat32(v, j.lo, raw); err != nil {
		return raw, enc, f32, err
	}
	enc, err = w.WriteFloat32(j.dst.Name, j.lo, v, enc)
	return raw, enc, f32, err
}
