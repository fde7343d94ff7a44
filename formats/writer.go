package formats

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

// DefaultShardSize is the default largest shard of a directory output (5 GB,
// as in transformers and mergekit).
const DefaultShardSize = 5_000_000_000

// TensorSpec declares one output tensor.
type TensorSpec struct {
	Name  string
	DType DType
	Shape []int64
}

// Size returns the tensor's length in bytes.
func (s TensorSpec) Size() int64 { return NumElements(s.Shape) * int64(s.DType.Size()) }

// WriteOptions configure Create.
type WriteOptions struct {
	// ShardSize is the largest shard of a directory output in bytes; 0 means
	// DefaultShardSize and a negative value disables sharding. A tensor larger
	// than the limit gets a shard of its own.
	ShardSize int64
	// Sync makes the output durable: files are fsynced before the rename.
	Sync bool
	// Metadata is added to each file's __metadata__ (which always holds
	// "format": "pt").
	Metadata map[string]string
	// Inputs are the paths of the merge's inputs; an output that would
	// overwrite one of them is refused.
	Inputs []string
	// Stdout receives the stream when the output path is "-" (default os.Stdout).
	Stdout io.Writer
}

// Writer writes a checkpoint whose tensors were declared up front. WriteAt
// and WriteFloat32 may be called concurrently for different byte ranges.
// Nothing is visible at the target path until Commit; Abort removes every
// temporary file.
type Writer struct {
	path   string
	kind   outKind
	dir    string // target directory (for a file output, its parent)
	opts   WriteOptions
	shards []*outShard
	where  map[string]*outTensor
	order  []string
	extra  map[string][]byte

	mu         sync.Mutex
	done       bool
	createdDir bool
}

type outKind int

const (
	outFile outKind = iota
	outDir
	outStdout
)

type outShard struct {
	final string // file name within dir (or the output file path)
	tmp   *os.File
	specs []TensorSpec
	size  int64
}

type outTensor struct {
	spec  TensorSpec
	shard *outShard
	off   int64 // absolute file offset
}

// IsDirOutput reports whether path names a directory output: anything that
// is not "-" and does not end in ".safetensors", or an existing directory.
func IsDirOutput(path string) bool {
	if path == "-" {
		return false
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return true
	}
	return !strings.HasSuffix(strings.ToLower(path), ".safetensors")
}

// Create plans the output at path — "-" for standard output, a .safetensors
// file, or a directory — for the given tensors in the given order, and opens
// temporary files for it.
func Create(path string, specs []TensorSpec, opts WriteOptions) (*Writer, error) {
	w := &Writer{path: path, opts: opts, where: map[string]*outTensor{}, extra: map[string][]byte{}}
	if opts.ShardSize == 0 {
		w.opts.ShardSize = DefaultShardSize
	}
	for _, s := range specs {
		if s.DType.Size() == 0 {
			return nil, fmt.Errorf("%s: tensor %q: unknown dtype %q", path, s.Name, s.DType)
		}
		if _, err := checkedSize(s.Shape, s.DType); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, s.Name, err)
		}
		if s.Name == "" || s.Name == "__metadata__" || !utf8.ValidString(s.Name) {
			return nil, fmt.Errorf("%s: tensor name %q is not allowed in a safetensors file", path, s.Name)
		}
		if _, dup := w.where[s.Name]; dup {
			return nil, fmt.Errorf("%s: tensor %q declared twice", path, s.Name)
		}
		w.where[s.Name] = nil
		w.order = append(w.order, s.Name)
	}
	switch {
	case path == "-":
		w.kind = outStdout
		w.dir = os.TempDir()
		w.shards = []*outShard{{final: "-", specs: specs}}
	case IsDirOutput(path):
		w.kind = outDir
		w.dir = path
		w.shards = planShards(specs, w.opts.ShardSize)
	default:
		w.kind = outFile
		w.dir = filepath.Dir(path)
		w.shards = []*outShard{{final: filepath.Base(path), specs: specs}}
	}
	if err := w.checkInputs(); err != nil {
		return nil, err
	}
	if w.kind == outDir {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return nil, fmt.Errorf("creating output directory: %w", err)
			}
			w.createdDir = true
		}
	}
	for _, sh := range w.shards {
		if err := w.openShard(sh); err != nil {
			w.Abort()
			return nil, err
		}
	}
	return w, nil
}

// checkInputs refuses an output that would replace one of the inputs: the
// same file or directory, a file output that is one of an input directory's
// weight files, or a directory output holding an input's weight files (which
// the new output would replace or remove as stale).
func (w *Writer) checkInputs() error {
	var outs []string
	switch w.kind {
	case outFile:
		outs = append(outs, w.path)
	case outDir:
		outs = append(outs, w.path)
		for _, sh := range w.shards {
			outs = append(outs, filepath.Join(w.dir, sh.final))
		}
	default:
		return nil
	}
	targetDir := ""
	if w.kind == outDir {
		targetDir = w.path
	}
	for _, in := range w.opts.Inputs {
		for _, f := range inputFiles(in) {
			ist, err := os.Stat(f)
			if err != nil {
				continue
			}
			for _, o := range outs {
				if ost, err := os.Stat(o); err == nil && os.SameFile(ist, ost) {
					return fmt.Errorf("output %s would overwrite the input %s", w.path, in)
				}
			}
			if targetDir == "" || ist.IsDir() || !isModelFileName(filepath.Base(f)) {
				continue
			}
			dst, err1 := os.Stat(targetDir)
			sst, err2 := os.Stat(filepath.Dir(f))
			if err1 == nil && err2 == nil && os.SameFile(dst, sst) {
				return fmt.Errorf("output directory %s holds the input %s, which the output would replace", w.path, in)
			}
		}
	}
	return nil
}

// inputFiles returns an input path and, for a directory, the weight files
// and index in it.
func inputFiles(in string) []string {
	if in == "-" || in == "" {
		return nil
	}
	out := []string{in}
	if st, err := os.Stat(in); err == nil && st.IsDir() {
		ents, _ := os.ReadDir(in)
		for _, e := range ents {
			if n := e.Name(); isModelFileName(n) || strings.HasSuffix(n, ".safetensors") {
				out = append(out, filepath.Join(in, n))
			}
		}
	}
	return out
}

// isModelFileName reports whether n is one of the weight files a directory
// output writes: model.safetensors, its index, or a shard named
// model-NNNNN-of-NNNNN.safetensors. Other files are never replaced or
// removed.
func isModelFileName(n string) bool {
	return n == "model.safetensors" || n == IndexFile || shardName.MatchString(n)
}

var shardName = regexp.MustCompile(`^model-[0-9]{5,}-of-[0-9]{5,}\.safetensors$`)

func planShards(specs []TensorSpec, limit int64) []*outShard {
	var shards []*outShard
	cur := &outShard{}
	for _, s := range specs {
		if limit > 0 && len(cur.specs) > 0 && cur.size+s.Size() > limit {
			shards = append(shards, cur)
			cur = &outShard{}
		}
		cur.specs = append(cur.specs, s)
		cur.size += s.Size()
	}
	shards = append(shards, cur)
	if len(shards) == 1 {
		shards[0].final = "model.safetensors"
	} else {
		for i, sh := range shards {
			sh.final = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		}
	}
	return shards
}

// encodeHeader returns the padded header (length prefix included) of a file
// holding specs in order, and each tensor's offset in the data section.
func encodeHeader(specs []TensorSpec, md map[string]string) ([]byte, []int64) {
	var b bytes.Buffer
	b.WriteString(`{"__metadata__":`)
	meta := map[string]string{"format": "pt"}
	for k, v := range md {
		meta[k] = v
	}
	mj, _ := json.Marshal(meta) // map keys are sorted: deterministic
	b.Write(mj)
	offs := make([]int64, len(specs))
	pos := int64(0)
	for i, s := range specs {
		name, _ := json.Marshal(s.Name)
		shape := s.Shape
		if shape == nil {
			shape = []int64{}
		}
		sj, _ := json.Marshal(shape)
		fmt.Fprintf(&b, `,%s:{"dtype":"%s","shape":%s,"data_offsets":[%d,%d]}`, name, s.DType, sj, pos, pos+s.Size())
		offs[i] = pos
		pos += s.Size()
	}
	b.WriteByte('}')
	for (8+b.Len())%8 != 0 {
		b.WriteByte(' ')
	}
	out := make([]byte, 8, 8+b.Len())
	binary.LittleEndian.PutUint64(out, uint64(b.Len()))
	return append(out, b.Bytes()...), offs
}

func (w *Writer) openShard(sh *outShard) error {
	prefix := ".gomerge-tmp-"
	if sh.final != "-" {
		prefix += sh.final + "-"
	}
	f, err := os.CreateTemp(w.dir, prefix+"*")
	if err != nil {
		return fmt.Errorf("creating output in %s: %w", w.dir, err)
	}
	sh.tmp = f
	if sh.final == "-" {
		// The stream's spool is only ever read through f: unlink it now so
		// it cannot outlive the process.
		os.Remove(f.Name())
	}
	// CreateTemp makes the file private (0600); the output is an ordinary
	// model file.
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("creating output in %s: %w", w.dir, err)
	}
	hdr, offs := encodeHeader(sh.specs, w.opts.Metadata)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("%s: writing header: %w", w.path, err)
	}
	total := int64(len(hdr)) + sh.size
	if err := preallocate(f, total); err != nil {
		return fmt.Errorf("%s: reserving %d bytes: %w", w.path, total, err)
	}
	for i, s := range sh.specs {
		w.where[s.Name] = &outTensor{spec: s, shard: sh, off: int64(len(hdr)) + offs[i]}
	}
	return nil
}

// Specs returns the declared tensors in output order.
func (w *Writer) Specs() []TensorSpec {
	out := make([]TensorSpec, 0, len(w.order))
	for _, n := range w.order {
		out = append(out, w.where[n].spec)
	}
	return out
}

// IsDir reports whether the output is a model directory.
func (w *Writer) IsDir() bool { return w.kind == outDir }

// Path returns the output path given to Create.
func (w *Writer) Path() string { return w.path }

// WriteAt writes p at byte off of the named tensor's data.
func (w *Writer) WriteAt(name string, p []byte, off int64) error {
	t, ok := w.where[name]
	if !ok || t == nil {
		return fmt.Errorf("%s: tensor %q was not declared", w.path, name)
	}
	if off < 0 || off+int64(len(p)) > t.spec.Size() {
		return fmt.Errorf("%s: tensor %q: write of %d bytes at %d is outside the tensor", w.path, name, len(p), off)
	}
	if _, err := t.shard.tmp.WriteAt(p, t.off+off); err != nil {
		return fmt.Errorf("%s: tensor %q: %w", w.path, name, err)
	}
	return nil
}

// copyFrom copies n bytes of tensor t starting at byte off into the named
// output tensor at the same offset, inside the kernel where possible. ok is
// false when the caller must copy through memory instead.
func (w *Writer) copyFrom(name string, t *Tensor, off, n int64) (ok bool, err error) {
	o, found := w.where[name]
	if !found || o == nil {
		return false, fmt.Errorf("%s: tensor %q was not declared", w.path, name)
	}
	if off < 0 || off+n > o.spec.Size() || off+n > t.Size {
		return false, fmt.Errorf("%s: tensor %q: copy of %d bytes at %d is outside the tensor", w.path, name, n, off)
	}
	copied, ok, err := copyRange(o.shard.tmp, t.f, o.off+off, t.Offset+off, n)
	if !ok {
		return false, nil
	}
	if err == nil && copied < n {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return true, fmt.Errorf("%s: tensor %q: file changed or truncated while reading: %w", t.File, t.Name, err)
	}
	return true, nil
}

// WriteFloat32 converts src to the tensor's dtype and writes it starting at
// element elem. scratch is a reusable buffer, grown as needed and returned.
func (w *Writer) WriteFloat32(name string, elem int64, src []float32, scratch []byte) ([]byte, error) {
	t, ok := w.where[name]
	if !ok || t == nil {
		return scratch, fmt.Errorf("%s: tensor %q was not declared", w.path, name)
	}
	dt := t.spec.DType
	if dt == F32 && len(src) > 0 {
		return scratch, w.WriteAt(name, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src)), 4*elem)
	}
	nb := len(src) * dt.Size()
	if cap(scratch) < nb {
		scratch = make([]byte, nb)
	}
	b := scratch[:nb]
	if err := EncodeFloat32(b, src, dt); err != nil {
		return scratch, fmt.Errorf("%s: tensor %q: %w", w.path, name, err)
	}
	return scratch, w.WriteAt(name, b, elem*int64(dt.Size()))
}

// DType returns the declared dtype of the named output tensor.
func (w *Writer) DType(name string) (DType, bool) {
	t, ok := w.where[name]
	if !ok || t == nil {
		return "", false
	}
	return t.spec.DType, true
}

// AddFile schedules an extra file (config.json, tokenizer files, a model
// card) to be written into a directory output at Commit. It is ignored for
// file and stream outputs.
func (w *Writer) AddFile(name string, data []byte) {
	if w.kind == outDir {
		w.extra[name] = data
	}
}

// Commit makes the output visible: it flushes (and with Sync, fsyncs) the
// temporary files, writes the index of a sharded directory, renames
// everything into place and, for "-", streams the result to standard output.
func (w *Writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errors.New("writer already finished")
	}
	err := w.commit()
	if err != nil {
		w.abortLocked()
		return err
	}
	w.done = true
	return nil
}

func (w *Writer) commit() error {
	if w.kind == outStdout {
		sh := w.shards[0]
		out := w.opts.Stdout
		if out == nil {
			out = os.Stdout
		}
		if _, err := sh.tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(out, sh.tmp); err != nil {
			return fmt.Errorf("writing to standard output: %w", err)
		}
		sh.tmp.Close()
		os.Remove(sh.tmp.Name())
		sh.tmp = nil
		return nil
	}
	for _, sh := range w.shards {
		if w.opts.Sync {
			if err := sh.tmp.Sync(); err != nil {
				return fmt.Errorf("%s: %w", w.path, err)
			}
		}
		if err := sh.tmp.Close(); err != nil {
			return fmt.Errorf("%s: %w", w.path, err)
		}
	}
	files := map[string][]byte{}
	for k, v := range w.extra {
		if k == "" || k != filepath.Base(k) || k == "." || k == ".." || isModelFileName(k) || strings.HasSuffix(k, ".safetensors") {
			return fmt.Errorf("%s: extra file name %q is not allowed", w.path, k)
		}
		files[k] = v
	}
	if w.kind == outDir && len(w.shards) > 1 {
		files[IndexFile] = w.indexJSON()
	}
	// Write the extra files to temporaries first, so nothing is renamed
	// until everything exists.
	var tmps []string
	var finals []string
	for _, sh := range w.shards {
		tmps = append(tmps, sh.tmp.Name())
		finals = append(finals, sh.final)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, err := w.writeTemp(files[n])
		if err != nil {
			for _, t := range tmps[len(w.shards):] {
				os.Remove(t)
			}
			return err
		}
		tmps = append(tmps, p)
		finals = append(finals, n)
	}
	// Weight files first, then the index and the other files, so that
	// the index never names a shard that is not there yet; stale shards of
	// an earlier layout go last.
	for i := range tmps {
		if err := os.Rename(tmps[i], filepath.Join(w.dir, finals[i])); err != nil {
			for _, t := range tmps[i:] {
				os.Remove(t)
			}
			return fmt.Errorf("%s: %w", w.path, err)
		}
	}
	if w.kind == outDir {
		w.removeStale()
	}
	if w.opts.Sync {
		dirs := []string{w.dir}
		if w.createdDir {
			dirs = append(dirs, filepath.Dir(filepath.Clean(w.dir)))
		}
		for _, dir := range dirs {
			if err := syncDir(dir); err != nil {
				return fmt.Errorf("%s: %w", w.path, err)
			}
		}
	}
	for _, sh := range w.shards {
		sh.tmp = nil
	}
	return nil
}

// syncDir makes the directory entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *Writer) writeTemp(data []byte) (string, error) {
	f, err := os.CreateTemp(w.dir, ".gomerge-tmp-*")
	if err != nil {
		return "", fmt.Errorf("%s: %w", w.path, err)
	}
	err = f.Chmod(0o644)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil && w.opts.Sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("%s: %w", w.path, err)
	}
	return f.Name(), nil
}

// removeStale deletes model shards and an index left in the target
// directory by an earlier run that are not part of this output.
func (w *Writer) removeStale() {
	keep := map[string]bool{}
	for _, sh := range w.shards {
		keep[sh.final] = true
	}
	if len(w.shards) > 1 {
		keep[IndexFile] = true
	}
	ents, _ := os.ReadDir(w.dir)
	for _, e := range ents {
		if isModelFileName(e.Name()) && !keep[e.Name()] {
			os.Remove(filepath.Join(w.dir, e.Name()))
		}
	}
}

func (w *Writer) indexJSON() []byte {
	var total int64
	wm := map[string]string{}
	for _, sh := range w.shards {
		total += sh.size
		for _, s := range sh.specs {
			wm[s.Name] = sh.final
		}
	}
	idx := map[string]any{
		"metadata":   map[string]any{"total_size": total},
		"weight_map": wm,
	}
	b, _ := json.MarshalIndent(idx, "", "  ")
	return append(b, '\n')
}

// Abort removes all temporary files (and a directory that Create made). It
// is safe to call more than once and after Commit, where it does nothing.
func (w *Writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.abortLocked()
	w.done = true
}

func (w *Writer) abortLocked() {
	for _, sh := range w.shards {
		if sh.tmp != nil {
			sh.tmp.Close()
			os.Remove(sh.tmp.Name())
			sh.tmp = nil
		}
	}
	if w.createdDir {
		os.Remove(w.dir) // only succeeds if empty
	}
}
