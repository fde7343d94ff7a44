// Command genmodels writes a family of synthetic Llama-architecture
// checkpoints for benchmarks, demos and tests: DIR/base and DIR/expert1..N,
// each a Hugging Face model directory (config.json of a LlamaForCausalLM plus
// model.safetensors, or shards and model.safetensors.index.json).
//
// Usage:
//
//	go run ./scripts/genmodels -o DIR [-params 1e9] [-experts 3] [-dtype bf16]
//	    [-seed 1] [-shard-size 2GB] [-tiny] [-big-tensor N] [-zero-frac 0.2]
//
// Base values are approximately N(0, 0.02) (norm weights approximately
// 1 + N(0, 0.02)); expert k holds base + δ with δ approximately N(0, 0.002),
// where a fraction -zero-frac of the elements of δ are exactly zero. Values
// are generated from a counter-based generator keyed by the seed, the model,
// the tensor and the chunk, so the output is byte-identical for a given seed
// whatever the number of threads.
//
// -tiny makes a family of about one million parameters (vocabulary 512).
// -big-tensor N makes the embedding matrix hold (at least) N elements and
// ties lm_head to it (tie_word_embeddings: true, no lm_head tensor), so a
// single huge tensor is available without doubling the disk use.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomerge/gomerge/formats"
)

// chunkElems is the number of elements generated per job. It fixes the
// random streams, so it must not depend on the thread count.
const chunkElems = 1 << 20

type options struct {
	out       string
	params    float64
	experts   int
	dtype     formats.DType
	seed      uint64
	shardSize int64
	tiny      bool
	bigTensor float64
	zeroFrac  float64
	threads   int
}

func main() {
	var o options
	var dtype, shard string
	flag.StringVar(&o.out, "o", "", "output directory (required); base and expert1..N are created in it")
	flag.Float64Var(&o.params, "params", 1e9, "approximate parameter count of each model")
	flag.IntVar(&o.experts, "experts", 3, "number of expert models besides the base")
	flag.StringVar(&dtype, "dtype", "bf16", "dtype of the weights: bf16, f16, f32 or f64")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed")
	flag.StringVar(&shard, "shard-size", "2GB", "largest shard of each model directory (0: one file)")
	flag.BoolVar(&o.tiny, "tiny", false, "a family of about 1M parameters (overrides -params)")
	flag.Float64Var(&o.bigTensor, "big-tensor", 0, "make the (tied) embedding matrix hold at least this many elements")
	flag.Float64Var(&o.zeroFrac, "zero-frac", 0.2, "fraction of expert delta elements that are exactly zero")
	flag.IntVar(&o.threads, "j", runtime.NumCPU(), "worker threads (the output does not depend on it)")
	flag.Parse()
	if err := o.finish(dtype, shard); err != nil {
		fmt.Fprintln(os.Stderr, "genmodels:", err)
		flag.Usage()
		os.Exit(2)
	}
	paths, err := generate(context.Background(), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "genmodels:", err)
		os.Exit(1)
	}
	for _, p := range paths {
		fmt.Println(p)
	}
}

func (o *options) finish(dtype, shard string) error {
	if o.out == "" {
		return fmt.Errorf("-o DIR is required")
	}
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	d, err := formats.ParseDType(dtype)
	if err != nil {
		return err
	}
	if !d.Writable() {
		return fmt.Errorf("-dtype %s: want bf16, f16, f32 or f64", dtype)
	}
	o.dtype = d
	n, err := formats.ParseSize(shard)
	if err != nil {
		return fmt.Errorf("-shard-size: %w", err)
	}
	if n == 0 {
		n = -1
	}
	o.shardSize = n
	if o.tiny {
		o.params = 1e6
	}
	if o.params < 1e4 || o.params > 1e12 {
		return fmt.Errorf("-params %g: want between 1e4 and 1e12", o.params)
	}
	if o.experts < 0 || o.experts > 999 {
		return fmt.Errorf("-experts %d: want 0..999", o.experts)
	}
	if o.zeroFrac < 0 || o.zeroFrac > 1 {
		return fmt.Errorf("-zero-frac %g: want 0..1", o.zeroFrac)
	}
	if o.bigTensor < 0 || o.bigTensor > 1<<50 {
		return fmt.Errorf("-big-tensor %g: out of range", o.bigTensor)
	}
	if o.threads < 1 {
		o.threads = 1
	}
	return nil
}

// arch is a Llama configuration.
type arch struct {
	Hidden, Layers, Heads, KVHeads, Inter, Vocab int64
	Tied                                         bool
}

func (a arch) headDim() int64 { return a.Hidden / a.Heads }

func (a arch) perLayer() int64 {
	kv := a.KVHeads * a.headDim()
	return 2*a.Hidden*a.Hidden + 2*kv*a.Hidden + 3*a.Hidden*a.Inter + 2*a.Hidden
}

func (a arch) params() int64 {
	p := a.Layers*a.perLayer() + a.Vocab*a.Hidden + a.Hidden
	if !a.Tied {
		p += a.Vocab * a.Hidden
	}
	return p
}

// chooseArch picks a Llama shape of about params parameters whose depth is
// close to hidden/128, the ratio of the Llama family (and at least 4).
func chooseArch(params float64, bigTensor float64) arch {
	vocab := int64(32000)
	if params < 1e8 {
		vocab = 512
	}
	best, bestScore := arch{}, math.Inf(1)
	for _, h := range []int64{64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096, 5120, 6144, 8192, 12288, 16384} {
		hd := int64(128)
		if h < 1024 {
			hd = 64
		}
		if h < 256 {
			hd = 32
		}
		heads := h / hd
		kv := heads
		if heads%4 == 0 {
			kv = heads / 4
		} else if heads%2 == 0 {
			kv = heads / 2
		}
		inter := (8*h/3 + 63) / 64 * 64
		a := arch{Hidden: h, Heads: heads, KVHeads: kv, Inter: inter, Vocab: vocab, Tied: bigTensor > 0}
		rest := params - float64(a.Vocab*h*2)
		if bigTensor > 0 {
			rest = params - float64(a.Vocab*h)
		}
		layers := int64(math.Round(rest / float64(a.perLayer())))
		if layers < 1 {
			continue
		}
		a.Layers = layers
		depth := max(float64(h)/128, 4)
		score := math.Abs(math.Log(float64(layers)/depth)) + 2*math.Abs(math.Log(float64(a.params())/params))
		if score < bestScore {
			best, bestScore = a, score
		}
	}
	if best.Layers == 0 {
		best = arch{Hidden: 64, Heads: 2, KVHeads: 1, Inter: 192, Vocab: vocab, Layers: 1, Tied: bigTensor > 0}
	}
	if bigTensor > 0 {
		best.Vocab = int64(math.Ceil(bigTensor / float64(best.Hidden)))
	}
	return best
}

func (a arch) config(dt formats.DType) map[string]any {
	return map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"hidden_size":             a.Hidden,
		"intermediate_size":       a.Inter,
		"num_hidden_layers":       a.Layers,
		"num_attention_heads":     a.Heads,
		"num_key_value_heads":     a.KVHeads,
		"head_dim":                a.headDim(),
		"vocab_size":              a.Vocab,
		"max_position_embeddings": 4096,
		"rms_norm_eps":            1e-5,
		"rope_theta":              10000.0,
		"hidden_act":              "silu",
		"tie_word_embeddings":     a.Tied,
		"attention_bias":          false,
		"mlp_bias":                false,
		"bos_token_id":            1,
		"eos_token_id":            2,
		"torch_dtype":             dt.TorchName(),
		"transformers_version":    "4.46.0",
	}
}

func (a arch) specs(dt formats.DType) []formats.TensorSpec {
	h, kv := a.Hidden, a.KVHeads*a.headDim()
	q := a.Heads * a.headDim()
	specs := []formats.TensorSpec{
		{Name: "model.embed_tokens.weight", DType: dt, Shape: []int64{a.Vocab, h}},
		{Name: "model.norm.weight", DType: dt, Shape: []int64{h}},
	}
	if !a.Tied {
		specs = append(specs, formats.TensorSpec{Name: "lm_head.weight", DType: dt, Shape: []int64{a.Vocab, h}})
	}
	for l := int64(0); l < a.Layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		specs = append(specs,
			formats.TensorSpec{Name: p + "self_attn.q_proj.weight", DType: dt, Shape: []int64{q, h}},
			formats.TensorSpec{Name: p + "self_attn.k_proj.weight", DType: dt, Shape: []int64{kv, h}},
			formats.TensorSpec{Name: p + "self_attn.v_proj.weight", DType: dt, Shape: []int64{kv, h}},
			formats.TensorSpec{Name: p + "self_attn.o_proj.weight", DType: dt, Shape: []int64{h, q}},
			formats.TensorSpec{Name: p + "mlp.gate_proj.weight", DType: dt, Shape: []int64{a.Inter, h}},
			formats.TensorSpec{Name: p + "mlp.up_proj.weight", DType: dt, Shape: []int64{a.Inter, h}},
			formats.TensorSpec{Name: p + "mlp.down_proj.weight", DType: dt, Shape: []int64{h, a.Inter}},
			formats.TensorSpec{Name: p + "input_layernorm.weight", DType: dt, Shape: []int64{h}},
			formats.TensorSpec{Name: p + "post_attention_layernorm.weight", DType: dt, Shape: []int64{h}},
		)
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs
}

// isNorm reports whether name is an RMSNorm weight (values near 1).
func isNorm(name string) bool { return strings.HasSuffix(name, "norm.weight") }

// generate writes the family and returns the model directories.
func generate(ctx context.Context, o options) ([]string, error) {
	a := chooseArch(o.params, o.bigTensor)
	specs := a.specs(o.dtype)
	cfg, err := json.MarshalIndent(a.config(o.dtype), "", "  ")
	if err != nil {
		return nil, err
	}
	cfg = append(cfg, '\n')
	names := []string{"base"}
	for k := 1; k <= o.experts; k++ {
		names = append(names, fmt.Sprintf("expert%d", k))
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	writers := make([]*formats.Writer, len(names))
	defer func() {
		for _, w := range writers {
			if w != nil {
				w.Abort()
			}
		}
	}()
	for i, n := range names {
		p := filepath.Join(o.out, n)
		w, err := formats.Create(p, specs, formats.WriteOptions{ShardSize: o.shardSize})
		if err != nil {
			return nil, err
		}
		w.AddFile("config.json", cfg)
		writers[i] = w
		paths = append(paths, p)
	}
	fmt.Fprintf(os.Stderr, "genmodels: hidden %d, layers %d, heads %d/%d, intermediate %d, vocab %d: %d parameters per model, %s\n",
		a.Hidden, a.Layers, a.Heads, a.KVHeads, a.Inter, a.Vocab, a.params(), o.dtype)

	type job struct {
		spec   formats.TensorSpec
		tensor uint64
		lo, hi int64
	}
	var jobs []job
	for _, s := range specs {
		h := fnv.New64a()
		h.Write([]byte(s.Name))
		key := h.Sum64()
		n := formats.NumElements(s.Shape)
		for lo := int64(0); lo < n; lo += chunkElems {
			jobs = append(jobs, job{spec: s, tensor: key, lo: lo, hi: min(lo+chunkElems, n)})
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, o.threads)
	zeroCut := uint64(o.zeroFrac * (1 << 24))
	for th := 0; th < o.threads; th++ {
		wg.Add(1)
		go func(th int) {
			defer wg.Done()
			base := make([]float32, chunkElems)
			vals := make([]float32, chunkElems)
			var scratch []byte
			for {
				i := next.Add(1) - 1
				if i >= int64(len(jobs)) || ctx.Err() != nil {
					return
				}
				j := jobs[i]
				n := int(j.hi - j.lo)
				b := base[:n]
				rng := newRNG(o.seed, 0, j.tensor, uint64(j.lo))
				offset := float32(0)
				if isNorm(j.spec.Name) {
					offset = 1
				}
				for e := range b {
					b[e] = offset + 0.02*rng.normal()
				}
				var err error
				if scratch, err = writers[0].WriteFloat32(j.spec.Name, j.lo, b, scratch); err != nil {
					errs[th] = err
					return
				}
				for k := 1; k < len(writers); k++ {
					v := vals[:n]
					r := newRNG(o.seed, uint64(k), j.tensor, uint64(j.lo))
					for e := range v {
						if r.next()>>40 < zeroCut {
							v[e] = b[e]
							continue
						}
						v[e] = b[e] + 0.002*r.normal()
					}
					if scratch, err = writers[k].WriteFloat32(j.spec.Name, j.lo, v, scratch); err != nil {
						errs[th] = err
						return
					}
				}
			}
		}(th)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, w := range writers {
		if err := w.Commit(); err != nil {
			return nil, err
		}
		writers[i] = nil
	}
	return paths, nil
}

// rng is a SplitMix64 generator: fast, and seeded per (seed, model, tensor,
// chunk) so chunks can be generated independently.
type rng struct{ s uint64 }

func newRNG(seed, model, tensor, chunk uint64) *rng {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[0:], seed)
	binary.LittleEndian.PutUint64(b[8:], model)
	binary.LittleEndian.PutUint64(b[16:], tensor)
	binary.LittleEndian.PutUint64(b[24:], chunk)
	h := fnv.New64a()
	h.Write(b[:])
	r := &rng{s: h.Sum64()}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// irwinHallStd is the standard deviation of the sum of four independent
// uniform 16-bit integers: 2·65536/√12.
const irwinHallStd = 2 * 65536 / 3.4641016151377544

// normal returns an approximately standard normal value: the centred,
// scaled sum of four 16-bit uniforms (Irwin–Hall), one generator step each.
func (r *rng) normal() float32 {
	x := r.next()
	s := (x & 0xffff) + (x >> 16 & 0xffff) + (x >> 32 & 0xffff) + (x >> 48)
	return float32((float64(s) - 2*65535) / irwinHallStd)
}
