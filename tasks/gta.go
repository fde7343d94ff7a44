package tasks

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/gomerge/gomerge/merge"
	"github.com/gomerge/gomerge/simd"
)

// sparsifier is how a method prunes each task vector.
type sparsifier int

const (
	sparseNone      sparsifier = iota
	sparseMagnitude            // TIES: keep the ⌊density·n⌋ largest |δ|
	sparseRandom               // DARE: keep each entry with probability density
	sparseOutliers             // Breadcrumbs: drop the ⌊γ·n⌋ largest, then the smallest
	sparseDella                // DELLA: keep with a probability rising with the entry's rank in its row
)

// rescaleMode is what happens to the kept entries of a sparsified task
// vector.
type rescaleMode int

const (
	rescaleOff   rescaleMode = iota
	rescaleL1                // mergekit: scale the tensor so its L1 norm is unchanged
	rescaleExact             // papers: divide each kept entry by its keep probability
)

// variant is the fixed recipe of one method of the family.
type variant struct {
	name      string
	sparse    sparsifier
	consensus bool
	normalize bool // default
	rescale   bool // default
}

// maskDrawer fills bits (bit i&7 of byte i>>3 for entry i of chunk c)
// with independent Bernoulli draws, set with probability p[i] (p of length
// 1: the same probability for every entry); bits of a last partial byte
// above the chunk are cleared. The default draws from t.RNG(model,
// c.Index); tests inject fixed masks.
type maskDrawer func(t *merge.Task, model int, c merge.Chunk, p []float32, bits []byte)

// gta is the generalized task arithmetic merge (mergekit's
// GeneralizedTaskArithmeticMerge) with gomerge's options.
type gta struct {
	v          variant
	normalize  bool
	rescale    rescaleMode
	lambda     float32
	unweighted bool       // --sign unweighted
	modelScope bool       // --scope model
	draw       maskDrawer // nil: bernoulliMask
	warn       func(t *merge.Task, format string, args ...any)
	radixOnly  bool  // tests: skip the window selection
	refOnly    bool  // tests: skip the blocked bf16 passes
	noMap      bool  // tests: the blocked passes read with ReadRaw, not from mappings
	keepMapped int64 // mapped bytes of a tensor kept between passes (maxKeptMapped)
	maskBudget int64 // bytes of DARE masks kept between passes (maxMaskCache)

	mu       sync.Mutex
	prepared map[string]*preparedBands // --scope model, by tensor name
}

// newGTA validates the global parameters of a method of the family.
func newGTA(v variant, g merge.Params) (*gta, error) {
	m := &gta{v: v, normalize: g.Bool("normalize", v.normalize), lambda: float32(g.Float("lambda", 1)), warn: taskWarn, maskBudget: maxMaskCache, keepMapped: maxKeptMapped}
	rs, err := parseRescale(g["rescale"], v.rescale)
	if err != nil {
		return nil, err
	}
	m.rescale = rs
	if math.IsNaN(g.Float("lambda", 1)) || math.IsInf(g.Float("lambda", 1), 0) {
		return nil, fmt.Errorf("lambda must be a finite number")
	}
	switch s := g.String("scope", "tensor"); s {
	case "tensor":
	case "model":
		if v.sparse != sparseMagnitude && v.sparse != sparseOutliers {
			return nil, fmt.Errorf("scope=model applies to the magnitude top-k of ties, breadcrumbs and breadcrumbs_ties only")
		}
		m.modelScope = true
	default:
		return nil, fmt.Errorf("scope %q: want tensor or model", s)
	}
	switch s := g.String("sign", "sum"); s {
	case "sum":
	case "unweighted":
		m.unweighted = true
	default:
		return nil, fmt.Errorf("sign %q: want sum or unweighted", s)
	}
	if m.rescale == rescaleExact && v.sparse != sparseRandom && v.sparse != sparseDella {
		return nil, fmt.Errorf("rescale=exact divides by keep probabilities: it applies to the DARE and DELLA methods only")
	}
	return m, nil
}

// parseRescale reads the rescale parameter: a bool (recipes) or one of
// "true", "false", "exact".
func parseRescale(v any, def bool) (rescaleMode, error) {
	b := def
	switch x := v.(type) {
	case nil:
	case bool:
		b = x
	case float64:
		b = x != 0
	case string:
		switch x {
		case "true", "True", "1":
			b = true
		case "false", "False", "0":
			b = false
		case "exact":
			return rescaleExact, nil
		default:
			return 0, fmt.Errorf("rescale %q: want true, false or exact", x)
		}
	default:
		return 0, fmt.Errorf("rescale %v: want true, false or exact", v)
	}
	if b {
		return rescaleL1, nil
	}
	return rescaleOff, nil
}

// taskWarn reports a warning through the task (honouring -q).
func taskWarn(t *merge.Task, format string, args ...any) {
	t.Warnf(format, args...)
}

// modelPlan is what the merge of one tensor does with one model.
type modelPlan struct {
	weight  float32
	density float64
	gamma   float64
	epsilon float64
	sparse  bool    // sparsify this model's task vector
	zero    bool    // the sparsifier keeps nothing: the task vector is zero
	band    band    // magnitude methods
	scale   float32 // L1 rescale factor (1: none)
}

// plans reads and checks the per-model parameters of a task.
func (m *gta) plans(t *merge.Task, warn bool) ([]modelPlan, error) {
	ps := make([]modelPlan, len(t.Inputs))
	for k := range ps {
		p := t.Model[k]
		w := p.Float("weight", math.NaN())
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("model %d: weight must be a finite number", k+1)
		}
		ps[k] = modelPlan{weight: float32(w), density: p.Float("density", 1), gamma: p.Float("gamma", 0.01), epsilon: p.Float("epsilon", 0.15), scale: 1}
		mp := &ps[k]
		if math.IsNaN(mp.density) || math.IsNaN(mp.gamma) || math.IsNaN(mp.epsilon) {
			return nil, fmt.Errorf("model %d: density, gamma and epsilon must be numbers", k+1)
		}
		if m.v.sparse == sparseNone || mp.density >= 1 {
			continue
		}
		mp.sparse = true
		switch m.v.sparse {
		case sparseOutliers:
			if mp.gamma < 0 || mp.gamma > 1 {
				return nil, fmt.Errorf("model %d: gamma %v outside [0, 1]", k+1, mp.gamma)
			}
		case sparseDella:
			if mp.density > 0 && (mp.density+mp.epsilon >= 1 || mp.density-mp.epsilon <= 0) {
				return nil, fmt.Errorf("model %d: epsilon %v must keep density ± epsilon inside (0, 1) (density %v)", k+1, mp.epsilon, mp.density)
			}
		}
		if mp.density <= 0 {
			mp.zero = true
			if warn {
				m.warn(t, "tensor %q: model %d: density %v keeps no element; its task vector is zero", t.Name, k+1, mp.density)
			}
		}
	}
	return ps, nil
}

// Merge implements merge.Method.
func (m *gta) Merge(ctx context.Context, t *merge.Task) error {
	if t.Base == nil {
		return fmt.Errorf("%s needs a base model", m.v.name)
	}
	ps, err := m.plans(t, true)
	if err != nil {
		return err
	}
	n := t.Len()
	align := int64(1)
	if m.v.sparse == sparseDella {
		_, align = t.Rows()
	}
	chunks := merge.Chunks(n, align)
	// The blocked bf16 passes share one mapping of the inputs.
	var in *bf16Inputs
	if m.usesBF16Passes(t) {
		in = openBF16Inputs(t, !m.noMap, m.keepMapped)
		defer in.close()
	}
	var chain *eqChain
	switch m.v.sparse {
	case sparseMagnitude, sparseOutliers:
		if m.modelScope {
			pb, err := m.preparedFor(t)
			if err != nil {
				return err
			}
			for k := range ps {
				switch {
				case pb.zero[k]:
					ps[k].zero = true
				case ps[k].sparse:
					ps[k].band = pb.bands[k]
				}
			}
			chain = pb.chain
		} else if chain, err = m.selectBands(ctx, t, ps, len(chunks), in); err != nil {
			return err
		}
	}
	blocked := in // the inputs of the blocked passes of fused merges
	if !m.fused(t, chain) {
		blocked = nil
	}
	var masks *maskCache
	if m.rescale == rescaleL1 && anySparse(ps) {
		if blocked != nil && m.v.sparse == sparseRandom {
			if masks, err = m.l1ScalesBF16(ctx, t, ps, blocked); err != nil {
				return err
			}
		} else if err := m.l1Scales(ctx, t, ps, align, chain); err != nil {
			return err
		}
	}
	if blocked != nil && anySparse(ps) {
		defer masks.release()
		return m.finalBF16(ctx, t, ps, chain, blocked, masks)
	}
	return m.final(ctx, t, ps, align, chain)
}

func anySparse(ps []modelPlan) bool {
	for _, p := range ps {
		if p.sparse && !p.zero {
			return true
		}
	}
	return false
}

// magnitudeRanks returns the descending ranks [lo, hi) a magnitude method
// keeps of n elements (mergekit's magnitude and magnitude_outliers, with
// gomerge's fix: ⌊γ·n⌋ = 0 drops no outlier instead of everything).
func magnitudeRanks(sp sparsifier, density, gamma float64, n int64) (lo, hi int64) {
	target := int64(density * float64(n))
	if sp == sparseMagnitude {
		return 0, target
	}
	top := int64(gamma * float64(n))
	bot := n - target - top
	if bot < 0 {
		top += bot
	}
	return top, top + target
}

// deltaScan reads, chunk by chunk, the task vectors x_k − base of the
// models k with want[k] (nil entries for the others).
func deltaScan(t *merge.Task, align int64, want []bool) scanFunc {
	return func(ctx context.Context, visit func(int, [][]float32) error) error {
		return t.ForChunks(ctx, align, func(c merge.Chunk) error {
			base := merge.GetFloats(c.Len())
			defer merge.PutFloats(base)
			if err := t.Base.Read(base, c.Lo); err != nil {
				return err
			}
			d := make([][]float32, len(t.Inputs))
			defer func() {
				for _, b := range d {
					if b != nil {
						merge.PutFloats(b)
					}
				}
			}()
			for k, in := range t.Inputs {
				if !want[k] {
					continue
				}
				d[k] = merge.GetFloats(c.Len())
				if err := in.Read(d[k], c.Lo); err != nil {
					return err
				}
				simd.Sub(d[k], d[k], base)
			}
			return visit(c.Index, d)
		})
	}
}

// selectBands finds, per sparsified model, the exact magnitude thresholds
// of the tensor (two passes over the data) and returns the chain that hands
// threshold-tie counts from chunk to chunk (nil when no band needs it).
// in, if not nil, holds the tensor's stored bf16 values.
func (m *gta) selectBands(ctx context.Context, t *merge.Task, ps []modelPlan, nChunks int, in *bf16Inputs) (*eqChain, error) {
	n := t.Len()
	want := make([]bool, len(ps))
	bs := make([]rankBounds, len(ps))
	for k := range ps {
		p := &ps[k]
		if !p.sparse || p.zero {
			continue
		}
		lo, hi := magnitudeRanks(m.v.sparse, p.density, p.gamma, n)
		if hi <= lo {
			p.zero = true
			m.warn(t, "tensor %q: model %d: density %v keeps 0 of %d elements; its task vector is zero", t.Name, k+1, p.density, n)
			continue
		}
		want[k] = true
		bs[k] = rankBounds{lo, hi}
	}
	if !slices.Contains(want, true) {
		return nil, nil
	}
	if !m.radixOnly {
		bands, chain, ok, err := m.windowBands(ctx, t, want, bs, nChunks, in)
		if err != nil {
			return nil, err
		}
		if ok {
			for k := range ps {
				if want[k] {
					ps[k].band = bands[k]
				}
			}
			return chain, nil
		}
	}
	qs := bandQueries(want, bs)
	scan := deltaScan(t, 1, want)
	sel := &absSelector{streams: len(ps)}
	if err := sel.countHigh(ctx, scan, nil); err != nil {
		return nil, err
	}
	ans, err := sel.resolve(ctx, scan, qs)
	if err != nil {
		return nil, err
	}
	bands := make([]band, len(ps))
	straddle := bandsFromAnswers(want, bs, ans, bands)
	for k := range ps {
		if want[k] {
			ps[k].band = bands[k]
		}
	}
	if !straddle {
		return nil, nil
	}
	return newEqChain(nChunks, 2*len(ps)), nil
}

// sparsifyChunk prunes the task vectors d (one per model, nil for zero ones)
// of chunk c in place, as every pass over the tensor must do identically.
func (m *gta) sparsifyChunk(ctx context.Context, t *merge.Task, ps []modelPlan, c merge.Chunk, chain *eqChain, d [][]float32, cols int64, exact bool) error {
	switch m.v.sparse {
	case sparseMagnitude, sparseOutliers:
		var before, after []int64
		if chain != nil {
			var counts []int64
			if !chain.known[c.Index+1] {
				counts = make([]int64, 2*len(ps))
				for k := range ps {
					if d[k] != nil && ps[k].sparse && !ps[k].zero {
						counts[2*k], counts[2*k+1] = ps[k].band.countEqual(d[k])
					}
				}
			}
			var err error
			if before, err = chain.wait(ctx, c.Index); err != nil {
				return err
			}
			if counts != nil {
				chain.publish(c.Index, before, counts)
			}
			after = chain.prefix(c.Index + 1)
		}
		for k := range ps {
			if d[k] == nil || !ps[k].sparse || ps[k].zero {
				continue
			}
			var lo, hi, inLo, inHi int64
			if before != nil {
				lo, hi = before[2*k], before[2*k+1]
				inLo, inHi = after[2*k]-lo, after[2*k+1]-hi
			}
			ps[k].band.apply(d[k], lo, hi, inLo, inHi)
		}
	case sparseRandom:
		draw := m.drawer()
		bits := make([]byte, (c.Len()+7)/8)
		for k := range ps {
			if d[k] == nil || !ps[k].sparse || ps[k].zero {
				continue
			}
			p := float32(ps[k].density)
			draw(t, k, c, []float32{p}, bits)
			if exact {
				for i := range d[k] {
					d[k][i] /= p
				}
			}
			applyBits(d[k], bits)
		}
	case sparseDella:
		bits := make([]byte, (c.Len()+7)/8)
		prob := make([]float32, c.Len())
		var keys []uint64
		for k := range ps {
			if d[k] == nil || !ps[k].sparse || ps[k].zero {
				continue
			}
			dk := d[k]
			for lo := 0; lo < len(dk); lo += int(cols) {
				keys = dellaProbs(prob[lo:lo+int(cols)], dk[lo:lo+int(cols)], ps[k].density, ps[k].epsilon, keys)
			}
			m.drawer()(t, k, c, prob, bits)
			if exact {
				for i := range dk {
					dk[i] /= prob[i]
				}
			}
			applyBits(dk, bits)
		}
	}
	return nil
}

// drawer returns the method's mask drawer.
func (m *gta) drawer() maskDrawer {
	if m.draw == nil {
		return bernoulliMask
	}
	return m.draw
}

// laneMasks are laneMaskRows of 32-bit lanes. Read-only.
var laneMasks = laneMaskRows[uint32]()

// laneMaskRows returns, for each mask byte, 8 lanes of T: all ones where
// the byte's bit is set (a kernel selects the row of a mask byte).
func laneMaskRows[T uint32 | uint64]() *[256][8]T {
	var r [256][8]T
	for m := range 256 {
		for j := range 8 {
			if m>>j&1 != 0 {
				r[m][j] = ^T(0)
			}
		}
	}
	return &r
}

// applyBitsGeneric zeroes d[i] where bit i of bits (bit i&7 of byte i>>3)
// is clear, without branches (the mask is random, so a branch would be
// mispredicted half the time).
func applyBitsGeneric(d []float32, bits []byte) {
	for i := range d {
		d[i] = math.Float32frombits(math.Float32bits(d[i]) & -(uint32(bits[i>>3]>>(i&7)) & 1))
	}
}

// dellaProbs sets p[i] to DELLA's keep probability of row entry i: with
// rank r = 1 + its position in the ascending order of |δ| (ties by
// position) over n entries, p = (density − ε) + 2ε·(r − 1)/(n − 1). A row of
// one entry gets p = density (mergekit divides 0 by 0 there).
func dellaProbs(p, row []float32, density, eps float64, keys []uint64) []uint64 {
	n := len(row)
	if n == 1 {
		p[0] = float32(density)
		return keys
	}
	var sorted []uint64
	sorted, keys = sortByMagnitude(row, keys)
	lo := float32(density - eps)
	span := float32(2 * eps)
	for r, key := range sorted {
		norm := float32(r) / float32(n-1)
		p[uint32(key)] = lo + norm*span
	}
	return keys
}

// sortByMagnitude returns the row's entries as keys |v| bits << 32 | i in
// ascending order (ties by position), held in scratch (grown as needed;
// returned for the next call): an LSD
// radix sort of the |v| bits, 8 at a time, which is stable, so it gives the
// order sorting the keys would, faster on rows of thousands. Digits every
// key shares are skipped.
func sortByMagnitude(row []float32, scratch []uint64) (sorted, scratchOut []uint64) {
	n := len(row)
	if cap(scratch) < 2*n {
		scratch = make([]uint64, 2*n)
	}
	a, b := scratch[:n], scratch[n:2*n]
	and, or := ^uint32(0), uint32(0)
	for i, v := range row {
		k := absBits(v)
		a[i] = uint64(k)<<32 | uint64(i)
		and &= k
		or |= k
	}
	for d := range 4 {
		shift := 32 + 8*uint(d)
		if (and^or)>>(8*d)&0xff == 0 {
			continue // every key has this digit
		}
		// Two histograms, even and odd entries: runs of equal digits
		// (rows of tied values) would chain every increment on one
		// counter.
		var h0, h1 [256]uint32
		m := n &^ 1
		for i := 0; i < m; i += 2 {
			h0[uint8(a[i]>>shift)]++
			h1[uint8(a[i+1]>>shift)]++
		}
		if m < n {
			h0[uint8(a[m]>>shift)]++
		}
		sum := uint32(0)
		for j := range h0 {
			h0[j], sum = sum, sum+h0[j]+h1[j]
		}
		for _, x := range a {
			j := uint8(x >> shift)
			b[h0[j]] = x
			h0[j]++
		}
		a, b = b, a
	}
	return a, scratch
}

// bernoulliMask is the default maskDrawer: each entry compares 32 random
// bits of the (seed, tensor, model, chunk) stream with its probability.
func bernoulliMask(t *merge.Task, model int, c merge.Chunk, p []float32, bits []byte) {
	n := int(c.Len())
	if len(p) == 1 {
		// In bulk: maskDraw turns the stream's iterations into mask bits.
		d := newMaskDraw(t, model, c, float64(p[0]))
		defer putMaskDraw(d)
		d.next(bits, n)
		return
	}
	clear(bits[:(n+7)/8])
	rng := t.RNG(model, c.Index)
	for i := 0; i < n; i += 2 {
		v := rng.Uint64()
		if v&0xffffffff < keepThreshold(p[i]) {
			bits[i>>3] |= 1 << (i & 7)
		}
		if i+1 < n && v>>32 < keepThreshold(p[i+1]) {
			bits[(i+1)>>3] |= 1 << ((i + 1) & 7)
		}
	}
}

// keepThreshold maps a keep probability to the bound on 32 random bits.
func keepThreshold(q float32) uint64 {
	switch {
	case q <= 0:
		return 0
	case q >= 1:
		return 1 << 32
	}
	return uint64(float64(q) * (1 << 32))
}

// l1Scales runs the pass that computes, per model, mergekit's rescale
// factor ‖δ‖₁ / ‖masked δ‖₁ (left at 1 when either norm is below 1e-7).
// Sums are per chunk, added in chunk order.
func (m *gta) l1Scales(ctx context.Context, t *merge.Task, ps []modelPlan, align int64, chain *eqChain) error {
	chunks := merge.Chunks(t.Len(), align)
	nChunks := len(chunks)
	K := len(ps)
	before := make([]float64, nChunks*K)
	after := make([]float64, nChunks*K)
	want := make([]bool, K)
	for k := range ps {
		want[k] = ps[k].sparse && !ps[k].zero
	}
	_, cols := t.Rows()
	err := deltaScan(t, align, want)(ctx, func(item int, d [][]float32) error {
		for k := range d {
			if d[k] != nil {
				before[item*K+k] = simd.SumAbs(d[k])
			}
		}
		c := chunks[item]
		if err := m.sparsifyChunk(ctx, t, ps, c, chain, d, cols, false); err != nil {
			return err
		}
		for k := range d {
			if d[k] != nil {
				after[item*K+k] = simd.SumAbs(d[k])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for k := range ps {
		if !want[k] {
			continue
		}
		var b, a float64
		for c := 0; c < nChunks; c++ {
			b += before[c*K+k]
			a += after[c*K+k]
		}
		if b >= 1e-7 && a >= 1e-7 {
			ps[k].scale = float32(b / a)
		}
	}
	return nil
}

// final computes and writes the merged tensor.
func (m *gta) final(ctx context.Context, t *merge.Task, ps []modelPlan, align int64, chain *eqChain) error {
	K := len(ps)
	w := make([]float32, K)
	for k := range ps {
		w[k] = ps[k].weight
	}
	plain := m.v.sparse == sparseNone || !anySparse(ps)
	if plain && !m.v.consensus && !m.normalize && m.lambda == 1 && !hasZero(ps) {
		return m.plainSum(ctx, t, w)
	}
	_, cols := t.Rows()
	chunks := merge.Chunks(t.Len(), align)
	var wsum float32
	for _, x := range w {
		wsum += x
	}
	if math.Abs(float64(wsum)) < 1e-8 {
		wsum = 1
	}
	return t.ForChunks(ctx, align, func(c merge.Chunk) error {
		n := c.Len()
		base := merge.GetFloats(n)
		defer merge.PutFloats(base)
		if err := t.Base.Read(base, c.Lo); err != nil {
			return err
		}
		d := make([][]float32, K)
		defer func() {
			for _, b := range d {
				merge.PutFloats(b)
			}
		}()
		for k, in := range t.Inputs {
			d[k] = merge.GetFloats(n)
			if ps[k].zero {
				clear(d[k])
				continue
			}
			if err := in.Read(d[k], c.Lo); err != nil {
				return err
			}
			simd.Sub(d[k], d[k], base)
		}
		if err := m.sparsifyChunk(ctx, t, ps, chunks[c.Index], chain, d, cols, m.rescale == rescaleExact); err != nil {
			return err
		}
		mixed := merge.GetFloats(n)
		defer merge.PutFloats(mixed)
		div := merge.GetFloats(n)
		defer merge.PutFloats(div)
		// The combination runs in blocks that stay in the CPU cache.
		sub := make([][]float32, K)
		for lo := 0; lo < n; lo += combineBlock {
			hi := min(lo+combineBlock, n)
			for k := range d {
				sub[k] = d[k][lo:hi]
			}
			m.combine(mixed[lo:hi], div[lo:hi], base[lo:hi], sub, ps, w, wsum)
		}
		return t.Out.Write(mixed, c.Lo)
	})
}

// combineBlock is the number of elements combine handles at a time: the
// block's N + 3 float32 slices fit in a core's L2 cache.
const combineBlock = 8192

// combine turns one block of sparsified task vectors d into the merged
// values, in mixed (div is scratch): rescale, weight, sign election or sum,
// normalisation, lambda, plus base. d is modified.
func (m *gta) combine(mixed, div, base []float32, d [][]float32, ps []modelPlan, w []float32, wsum float32) {
	for k := range ps {
		if ps[k].scale != 1 {
			simd.Scale(d[k], ps[k].scale)
		}
	}
	if m.v.consensus {
		if m.unweighted {
			electUnweighted(mixed, div, d, w)
		} else {
			for k := range d {
				simd.Scale(d[k], w[k])
			}
			simd.TIESElect(mixed, div, d, w)
		}
		if m.normalize {
			for i, v := range div {
				if v == 0 {
					v = 1
				}
				mixed[i] /= v
			}
		}
	} else {
		clear(mixed)
		for k := range d {
			simd.AddScaled(mixed, w[k], d[k])
		}
		if m.normalize {
			for i := range mixed {
				mixed[i] /= wsum
			}
		}
	}
	if m.lambda != 1 {
		simd.Scale(mixed, m.lambda)
	}
	simd.Add(mixed, base, mixed)
}

func hasZero(ps []modelPlan) bool {
	for _, p := range ps {
		if p.zero {
			return true
		}
	}
	return false
}

// plainSum is task arithmetic without normalisation: base + Σ w_k(x_k − base)
// in one fused kernel per chunk.
func (m *gta) plainSum(ctx context.Context, t *merge.Task, w []float32) error {
	if in := openBF16Inputs(t, !m.noMap, 0); in != nil {
		defer in.close()
		return m.plainSumBF16(ctx, t, in, w)
	}
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		n := c.Len()
		base := merge.GetFloats(n)
		defer merge.PutFloats(base)
		if err := t.Base.Read(base, c.Lo); err != nil {
			return err
		}
		xs := make([][]float32, len(t.Inputs))
		defer func() {
			for _, x := range xs {
				merge.PutFloats(x)
			}
		}()
		for k, in := range t.Inputs {
			xs[k] = merge.GetFloats(n)
			if err := in.Read(xs[k], c.Lo); err != nil {
				return err
			}
		}
		simd.WeightedDeltaSum(base, base, xs, w)
		return t.Out.Write(base, c.Lo)
	})
}

// sumBlock is the block of plainSumBF16: its buffers stay in the core's L2
// cache between the read, the fused sum and the encoding. At most
// fusedBlock, what a blockReader reads at a time.
const sumBlock = fusedBlock

// plainSumBF16 is plainSum for bf16 checkpoints: it reads the stored bf16
// values block by block — in place from the mappings, or with ReadRaw when
// the inputs cannot be mapped — and sums them with
// simd.WeightedDeltaSumBF16, which gives bit for bit what converting to
// float32 first gives. A bf16 output is encoded per chunk and written at
// once (2 MB writes instead of 32 KB ones).
func (m *gta) plainSumBF16(ctx context.Context, t *merge.Task, in *bf16Inputs, w []float32) error {
	return t.ForChunks(ctx, 1, func(c merge.Chunk) error {
		rs := make([]*blockReader, len(t.Inputs)+1)
		for i := range rs {
			rs[i] = in.reader(i)
			defer rs[i].release()
		}
		out := make([]float32, sumBlock)
		xs := make([][]uint16, len(t.Inputs))
		enc := newBF16Out(t, c.Lo, c.Hi)
		err := in.guard(func() error {
			for lo := c.Lo; lo < c.Hi; lo += sumBlock {
				n := int(min(sumBlock, c.Hi-lo))
				b, err := rs[0].read(lo, n)
				if err != nil {
					return err
				}
				for k := range xs {
					if xs[k], err = rs[k+1].read(lo, n); err != nil {
						return err
					}
				}
				simd.WeightedDeltaSumBF16(out[:n], b, xs, w)
				if enc != nil {
					enc.put(out[:n], lo)
				} else if err := t.Out.Write(out[:n], lo); err != nil {
					return err
				}
			}
			in.drop(c.Lo, c.Hi)
			return nil
		})
		if err != nil || enc == nil {
			enc.release()
			return err
		}
		return enc.write()
	})
}

// electUnweighted is the sign election of the TIES paper (--sign
// unweighted): the majority sign is that of Σ_k δ_k (an exact zero elects
// +), and mixed/div sum w_k·δ_k and w_k over the models whose δ_k has it.
func electUnweighted(mixed, div []float32, d [][]float32, w []float32) {
	for i := range mixed {
		var s float32
		for k := range d {
			s += d[k][i]
		}
		var mx, dv float32
		for k := range d {
			v := d[k][i]
			if (s >= 0 && v > 0) || (s < 0 && v < 0) {
				mx += v * w[k]
				dv += w[k]
			}
		}
		mixed[i], div[i] = mx, dv
	}
}
