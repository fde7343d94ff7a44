package model

import (
	"context"
	"fmt"
	"slices"
	"unsafe"

	"github.com/gomerge/gomerge/formats"
)

// Model is a loaded decoder: its configuration and its weights, matrices in
// their stored precision. A Model is read-only once loaded and may be shared
// by several Runners.
type Model struct {
	Config
	embed  *Matrix // [Vocab, Hidden]
	lmHead *Matrix // embed when tied
	norm   []float32
	layers []*layer
}

type layer struct {
	attnNorm, mlpNorm []float32
	qkv               *Matrix   // q, k, v projections stacked: [(H+2·KV)·d, Hidden]
	qkvBias           []float32 // nil without biases
	o                 *Matrix
	oBias             []float32
	qNorm, kNorm      []float32 // Qwen3 per-head RMSNorm weights, nil otherwise
	gateUp            *Matrix   // gate and up projections stacked: [2·I, Hidden]
	gateUpBias        []float32
	down              *Matrix
	downBias          []float32
}

// Bytes returns the memory held by the weights.
func (m *Model) Bytes() int64 {
	n := m.embed.Bytes() + int64(len(m.norm))*4
	if m.lmHead != m.embed {
		n += m.lmHead.Bytes()
	}
	for _, l := range m.layers {
		n += l.qkv.Bytes() + l.o.Bytes() + l.gateUp.Bytes() + l.down.Bytes()
		n += int64(len(l.attnNorm)+len(l.mlpNorm)+len(l.qkvBias)+len(l.oBias)+len(l.qNorm)+len(l.kNorm)+len(l.gateUpBias)+len(l.downBias)) * 4
	}
	return n
}

// Load reads config.json and the weights of an opened checkpoint. Matrices
// keep their stored precision (bfloat16, float16 or float32; other float
// types are widened to float32); vectors are converted to float32.
func Load(ctx context.Context, src *formats.Model) (*Model, error) {
	data, err := src.ReadFile("config.json")
	if err != nil {
		return nil, fmt.Errorf("%s: the model has no config.json (needed to run it): %w", src.Path, err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Path, err)
	}
	return LoadWithConfig(ctx, src, cfg)
}

// LoadWithConfig is Load with an already parsed configuration.
func LoadWithConfig(ctx context.Context, src *formats.Model, cfg *Config) (*Model, error) {
	l := loader{src: src}
	m := &Model{Config: *cfg}
	c := &m.Config
	h, d := int64(c.Hidden), int64(c.HeadDim)
	m.embed = l.matrix([]string{"model.embed_tokens.weight"}, []int64{int64(c.Vocab)}, h)
	if c.TieEmbeddings {
		m.lmHead = m.embed
	} else {
		m.lmHead = l.matrix([]string{"lm_head.weight"}, []int64{int64(c.Vocab)}, h)
	}
	m.norm = l.vector("model.norm.weight", h, false)
	qRows, kvRows := int64(c.Heads)*d, int64(c.KVHeads)*d
	inter := int64(c.Intermediate)
	for i := 0; i < c.Layers && l.err == nil; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := fmt.Sprintf("model.layers.%d.", i)
		at, mlp := p+"self_attn.", p+"mlp."
		ly := &layer{
			attnNorm:   l.vector(p+"input_layernorm.weight", h, false),
			mlpNorm:    l.vector(p+"post_attention_layernorm.weight", h, false),
			qkv:        l.matrix([]string{at + "q_proj.weight", at + "k_proj.weight", at + "v_proj.weight"}, []int64{qRows, kvRows, kvRows}, h),
			qkvBias:    l.stackedBias([]string{at + "q_proj.bias", at + "k_proj.bias", at + "v_proj.bias"}, []int64{qRows, kvRows, kvRows}),
			o:          l.matrix([]string{at + "o_proj.weight"}, []int64{h}, qRows),
			oBias:      l.vector(at+"o_proj.bias", h, true),
			qNorm:      l.vector(at+"q_norm.weight", d, true),
			kNorm:      l.vector(at+"k_norm.weight", d, true),
			gateUp:     l.matrix([]string{mlp + "gate_proj.weight", mlp + "up_proj.weight"}, []int64{inter, inter}, h),
			gateUpBias: l.stackedBias([]string{mlp + "gate_proj.bias", mlp + "up_proj.bias"}, []int64{inter, inter}),
			down:       l.matrix([]string{mlp + "down_proj.weight"}, []int64{h}, inter),
			downBias:   l.vector(mlp+"down_proj.bias", h, true),
		}
		if (ly.qNorm == nil) != (ly.kNorm == nil) && l.err == nil {
			l.err = fmt.Errorf("%s: layer %d has only one of q_norm and k_norm", src.Path, i)
		}
		m.layers = append(m.layers, ly)
	}
	if l.err != nil {
		return nil, l.err
	}
	return m, nil
}

// loader reads tensors, remembering the first error.
type loader struct {
	src     *formats.Model
	err     error
	scratch []byte
}

func (l *loader) has(name string) bool {
	_, ok := l.src.Tensor(name)
	return ok
}

func (l *loader) tensor(name string) *formats.Tensor {
	t, ok := l.src.Tensor(name)
	if !ok && l.err == nil {
		l.err = fmt.Errorf("%s: tensor %q is missing", l.src.Path, name)
	}
	return t
}

func (l *loader) fail(t *formats.Tensor, format string, args ...any) {
	if l.err == nil {
		l.err = fmt.Errorf("%s: tensor %q: %s", t.File, t.Name, fmt.Sprintf(format, args...))
	}
}

// vector reads a 1-D tensor of length n in float32; optional tensors may be
// absent (nil is returned).
func (l *loader) vector(name string, n int64, optional bool) []float32 {
	if l.err != nil || optional && !l.has(name) {
		return nil
	}
	t := l.tensor(name)
	if t == nil {
		return nil
	}
	if !slices.Equal(t.Shape, []int64{n}) {
		l.fail(t, "shape %v, want [%d]", t.Shape, n)
		return nil
	}
	v := make([]float32, n)
	var err error
	if l.scratch, err = t.ReadFloat32(v, 0, l.scratch); err != nil && l.err == nil {
		l.err = err
	}
	return v
}

// stackedBias concatenates optional biases; nil when none exists.
func (l *loader) stackedBias(names []string, rows []int64) []float32 {
	var out []float32
	any := false
	for _, n := range names {
		any = any || l.has(n)
	}
	if !any {
		return nil
	}
	for i, n := range names {
		v := l.vector(n, rows[i], true)
		if v == nil {
			v = make([]float32, rows[i])
		}
		out = append(out, v...)
	}
	return out
}

func kindOf(dt formats.DType) elemKind {
	switch dt {
	case formats.BF16:
		return elemBF16
	case formats.F16:
		return elemF16
	}
	return elemF32
}

// matrix reads the 2-D tensors names, of rows[i]×cols each, stacked into
// one packed matrix.
func (l *loader) matrix(names []string, rows []int64, cols int64) *Matrix {
	if l.err != nil {
		return nil
	}
	var ts []*formats.Tensor
	var total int64
	for i, n := range names {
		t := l.tensor(n)
		if t == nil {
			return nil
		}
		if !slices.Equal(t.Shape, []int64{rows[i], cols}) {
			l.fail(t, "shape %v, want [%d %d]", t.Shape, rows[i], cols)
			return nil
		}
		if !t.DType.IsFloat() {
			l.fail(t, "dtype %s is not a floating-point type", t.DType)
			return nil
		}
		ts = append(ts, t)
		total += rows[i]
	}
	kind := kindOf(ts[0].DType)
	for _, t := range ts[1:] {
		if kindOf(t.DType) != kind || t.DType != ts[0].DType {
			kind = elemF32
		}
	}
	w := newMatrix(int(total), int(cols), kind)
	r0 := 0
	for i, t := range ts {
		if err := l.fill(w, r0, t, int(rows[i])); err != nil {
			l.err = err
			return nil
		}
		r0 += int(rows[i])
	}
	return w
}

// fill copies tensor t (rows × w.K) into w from row r0, a block of rows at a time.
func (l *loader) fill(w *Matrix, r0 int, t *formats.Tensor, rows int) error {
	k := w.K
	block := max(1, (1<<20)/k)
	f32 := make([]float32, 0)
	u16 := make([]uint16, 0)
	for r := 0; r < rows; r += block {
		n := min(block, rows-r)
		if w.kind != elemF32 {
			if cap(u16) < n*k {
				u16 = make([]uint16, n*k)
			}
			u := u16[:n*k]
			if err := t.ReadAt(unsafe.Slice((*byte)(unsafe.Pointer(&u[0])), 2*n*k), int64(r*k*2)); err != nil {
				return fmt.Errorf("%s: tensor %q: %w", t.File, t.Name, err)
			}
			w.setRowsU16(r0+r, u)
			continue
		}
		if cap(f32) < n*k {
			f32 = make([]float32, n*k)
		}
		f := f32[:n*k]
		var err error
		if l.scratch, err = t.ReadFloat32(f, int64(r*k), l.scratch); err != nil {
			return err
		}
		w.setRowsF32(r0+r, f)
	}
	return nil
}
