package merge

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"

	"github.com/gomerge/gomerge/formats"
)

// ChunkElems is the number of elements a chunk holds. It is a constant of
// the engine (not of the thread count), so per-chunk partial results and
// per-chunk random streams make results independent of -j.
const ChunkElems = 1 << 20

// Method computes output tensors.
type Method interface {
	// Merge computes one output tensor: it reads t.Base and t.Inputs (as
	// often as it needs) and writes every element of t.Out.
	Merge(ctx context.Context, t *Task) error
}

// Preparer is implemented by methods that need statistics over the whole
// model (PCB, TIES with --scope model). Prepare runs once, before any tensor
// is merged, with every task of the method.
type Preparer interface {
	Prepare(ctx context.Context, tasks []*Task) error
}

// Checker is implemented by methods that can reject a tensor from its
// plan alone (a weight sum of zero, say). PlanMerge calls Check for every
// task, so such errors come before any output exists.
type Checker interface {
	Check(t *Task) error
}

// Source reads float32 values of one input tensor. It is safe for
// concurrent use.
type Source interface {
	// Shape of the tensor as seen by the method (after any cropping).
	Shape() []int64
	// Len is the number of elements.
	Len() int64
	// Read fills dst with elements [off, off+len(dst)).
	Read(dst []float32, off int64) error
}

// Sink receives the float32 values of the output tensor.
type Sink interface {
	Write(src []float32, off int64) error
}

// Task is one output tensor to compute.
type Task struct {
	// Name of the output tensor.
	Name string
	// Shape of the output tensor.
	Shape []int64
	// Layer is the transformer layer index from the name, -1 for others.
	Layer int
	// Base is the base model's tensor, nil when the method uses no base.
	Base Source
	// Inputs are the models' tensors, base excluded, in argument order.
	Inputs []Source
	// Global holds the resolved global parameters; Model[k] the resolved
	// per-model parameters of Inputs[k].
	Global Params
	Model  []Params
	// InputModel[k] is the position of Inputs[k] among Config.Models (they
	// differ when a model lacks the tensor under --missing union or takes no
	// part in a slice).
	InputModel []int
	// Out receives the result.
	Out Sink
	// Seed is the user's --seed.
	Seed uint64
	// Method computes the tensor; nil means Copy is used.
	Method Method
	// Copy, when Method is nil, is copied through unchanged (byte for byte
	// when the dtypes agree).
	Copy *formats.Tensor
	// Source describes where the tensor comes from, for --dry-run.
	Source string

	// Warn receives the task's warnings (nil: discarded, as with -q).
	Warn io.Writer

	threads int
	out     *formats.Writer
	outDT   formats.DType
}

// Warnf reports a warning on t.Warn ("warning: " + the formatted text,
// which should name the tensor).
func (t *Task) Warnf(format string, args ...any) {
	if t.Warn != nil {
		fmt.Fprintf(t.Warn, "warning: "+format+"\n", args...)
	}
}

// Len returns the number of output elements.
func (t *Task) Len() int64 { return formats.NumElements(t.Shape) }

// Rows returns the shape viewed as a matrix [rows, cols]: 1-D tensors are
// one row, higher ranks fold the leading dimensions into rows.
func (t *Task) Rows() (rows, cols int64) {
	return MatrixShape(t.Shape)
}

// MatrixShape views a shape as [rows, cols] (a 1-D tensor is one row).
func MatrixShape(shape []int64) (rows, cols int64) {
	switch len(shape) {
	case 0:
		return 1, 1
	case 1:
		return 1, shape[0]
	}
	cols = shape[len(shape)-1]
	rows = 1
	for _, d := range shape[:len(shape)-1] {
		rows *= d
	}
	return rows, cols
}

// Threads is the parallelism available to the task's chunks.
func (t *Task) Threads() int {
	if t.threads < 1 {
		return 1
	}
	return t.threads
}

// Chunk is one piece of a tensor: elements [Lo, Hi); Index counts chunks
// from 0.
type Chunk struct {
	Index  int
	Lo, Hi int64
}

// Len returns Hi − Lo.
func (c Chunk) Len() int { return int(c.Hi - c.Lo) }

// Chunks splits n elements into chunks of about ChunkElems elements whose
// length is a multiple of align (a whole number of rows, say; align ≤ 1
// means any length). A row longer than ChunkElems makes one-row chunks.
func Chunks(n, align int64) []Chunk {
	size := int64(ChunkElems)
	if align > 1 {
		size = (size / align) * align
		if size == 0 {
			size = align
		}
	}
	var out []Chunk
	for lo := int64(0); lo < n; lo += size {
		hi := min(lo+size, n)
		out = append(out, Chunk{Index: len(out), Lo: lo, Hi: hi})
	}
	return out
}

// ForChunks runs fn for every chunk of the task's n elements (aligned as in
// Chunks) on up to Threads goroutines. Chunks start in index order (a chunk
// may wait for its predecessor's hand-over without deadlock). Results that
// fn stores by chunk index and combines in index order are independent of
// the thread count.
func (t *Task) ForChunks(ctx context.Context, align int64, fn func(c Chunk) error) error {
	return Parallel(ctx, t.Threads(), Chunks(t.Len(), align), fn)
}

// Parallel runs fn for every chunk on up to threads goroutines and returns
// the first error (by chunk order).
func Parallel(ctx context.Context, threads int, chunks []Chunk, fn func(c Chunk) error) error {
	if threads <= 1 || len(chunks) <= 1 {
		for _, c := range chunks {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(chunks))
	next := make(chan int)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < min(threads, len(chunks)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				if err := fn(chunks[i]); err != nil {
					errs[i] = err
					cancel()
				}
			}
		}()
	}
	for i := range chunks {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// floatPool recycles chunk buffers.
var floatPool = sync.Pool{New: func() any { return new([]float32) }}

// GetFloats returns a float32 buffer of length n from a pool; give it back
// with PutFloats. Its contents are undefined.
func GetFloats(n int) []float32 {
	p := floatPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	return (*p)[:n]
}

// PutFloats returns a buffer obtained from GetFloats.
func PutFloats(b []float32) {
	floatPool.Put(&b)
}

// RNG returns the random stream of (seed, tensor name, model index, chunk
// index): a ChaCha8 generator seeded by RNGKey, so random masks do not
// depend on tensor order, sharding or thread count.
func RNG(seed uint64, tensor string, model, chunk int) *rand.Rand {
	return rand.New(rand.NewChaCha8(RNGKey(seed, tensor, model, chunk)))
}

// RNGKey is the ChaCha8 key of RNG's stream: SHA-256 of the seed (8 bytes,
// little-endian), the tensor name, a zero byte, and the model and chunk
// indexes (8 bytes each, little-endian). Methods that generate the same
// stream in bulk derive their key here.
func RNGKey(seed uint64, tensor string, model, chunk int) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(tensor))
	h.Write([]byte{0})
	binary.LittleEndian.PutUint64(b[:], uint64(model))
	h.Write(b[:])
	binary.LittleEndian.PutUint64(b[:], uint64(chunk))
	h.Write(b[:])
	var key [32]byte
	copy(key[:], h.Sum(nil))
	return key
}

// RNG returns the task's random stream for input model k and chunk c.
func (t *Task) RNG(k, chunk int) *rand.Rand { return RNG(t.Seed, t.Name, k, chunk) }

var layerRE = regexp.MustCompile(`(?:^|\.)(?:layers|h|blocks|block|layer)\.(\d+)\.`)

// LayerIndex returns the transformer layer index in a tensor name
// ("model.layers.12.mlp.up_proj.weight" → 12, "transformer.h.3.attn…" → 3),
// or -1 for tensors outside the layer stack.
func LayerIndex(name string) int {
	m := layerRE.FindStringSubmatch(name)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return n
}

// WithLayer returns name with its layer index replaced by layer (the
// renumbering of slices), or name itself when it has no layer index.
func WithLayer(name string, layer int) string {
	m := layerRE.FindStringSubmatchIndex(name)
	if m == nil {
		return name
	}
	return name[:m[2]] + strconv.Itoa(layer) + name[m[3]:]
}

// IsEmbedding reports whether a tensor is a token embedding or LM head,
// whose first dimension is the vocabulary.
func IsEmbedding(name string) bool {
	return embedRE.MatchString(name)
}

var embedRE = regexp.MustCompile(`(^|\.)(embed_tokens|wte|word_embeddings|embed_in|embed_out|tok_embeddings|lm_head|output)\.weight$`)

func (t *Task) String() string { return fmt.Sprintf("%s %v", t.Name, t.Shape) }
