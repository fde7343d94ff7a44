package formats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name of a sharded checkpoint's index.
const IndexFile = "model.safetensors.index.json"

// StdinName is the file name that errors, TensorInfo.File and Shards use for
// a model read from standard input.
const StdinName = "<stdin>"

// Model is an opened checkpoint: one safetensors file or a model directory
// whose shards have been opened and whose headers have been validated.
// A Model is safe for concurrent reads.
type Model struct {
	// Path is the argument the model was opened from.
	Path string
	// Dir is the directory holding config.json and tokenizer files, or ""
	// for a lone file (for a lone file, Dir is its directory only if that
	// directory holds a config.json).
	Dir string
	// Metadata is the __metadata__ of the first shard.
	Metadata map[string]string

	tensors map[string]*Tensor
	names   []string
	files   []*os.File
	shards  []string // display names of files, in opening order
	spool   string   // temporary file holding standard input, removed by Close
}

// Tensor is one tensor of an opened model.
type Tensor struct {
	TensorInfo
	f *os.File
}

// Open opens a model argument: a .safetensors file, a Hugging Face model
// directory (model.safetensors, shards listed in model.safetensors.index.json,
// or a single *.safetensors file of another name), or "-" for standard input,
// which is spooled to a temporary file that Close removes.
func Open(path string) (*Model, error) {
	return OpenContext(context.Background(), path, os.Stdin)
}

// OpenContext is Open with a context (used while spooling standard input)
// and the reader that "-" stands for.
func OpenContext(ctx context.Context, path string, stdin io.Reader) (*Model, error) {
	if path == "-" {
		return openStdin(ctx, stdin)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("opening model: %w", err)
	}
	if !st.IsDir() {
		m := &Model{Path: path}
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), "config.json")); err == nil {
			m.Dir = filepath.Dir(path)
		}
		if err := m.addFile(path, nil); err != nil {
			m.Close()
			return nil, err
		}
		m.finish()
		return m, nil
	}
	m := &Model{Path: path, Dir: path}
	if err := m.openDir(path); err != nil {
		m.Close()
		return nil, err
	}
	m.finish()
	return m, nil
}

// OpenConfigDir returns a Model without tensors whose Dir is dir, for
// taking config.json and tokenizer files (CopyModelFiles) from a directory
// that need not hold weights.
func OpenConfigDir(dir string) (*Model, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening model files: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	m := &Model{Path: dir, Dir: dir}
	m.finish()
	return m, nil
}

func openStdin(ctx context.Context, r io.Reader) (*Model, error) {
	f, err := os.CreateTemp("", "gomerge-stdin-*.safetensors")
	if err != nil {
		return nil, fmt.Errorf("spooling standard input: %w", err)
	}
	name := f.Name()
	_, err = io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		f.Close()
		os.Remove(name)
		return nil, fmt.Errorf("spooling standard input: %w", err)
	}
	m := &Model{Path: "-", spool: name}
	m.files = append(m.files, f)
	// On Unix the spool can be unlinked while it stays open: it then
	// disappears even if the process is killed. Close removes it otherwise.
	if os.Remove(name) == nil {
		m.spool = ""
	}
	if err := m.addOpened(f, StdinName, nil); err != nil {
		m.Close()
		return nil, err
	}
	m.finish()
	return m, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (m *Model) openDir(dir string) error {
	idxPath := filepath.Join(dir, IndexFile)
	if data, err := os.ReadFile(idxPath); err == nil {
		return m.openIndex(dir, idxPath, data)
	} else if !os.IsNotExist(err) {
		return fmt.Errorf("%s: %w", idxPath, err)
	}
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		return m.addFile(single, nil)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	switch len(matches) {
	case 0:
		return fmt.Errorf("%s: no model.safetensors, %s or *.safetensors file in the directory", dir, IndexFile)
	case 1:
		return m.addFile(matches[0], nil)
	}
	return fmt.Errorf("%s: %d *.safetensors files but no %s to say how they fit together", dir, len(matches), IndexFile)
}

// Index is the content of model.safetensors.index.json.
type Index struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// ParseIndex parses and checks a model.safetensors.index.json document: a
// JSON object with a weight_map of tensor names to shard file names that stay
// inside the model directory.
func ParseIndex(data []byte) (*Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("not a valid index: %w", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, errors.New("index has no weight_map entries")
	}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard == "." || filepath.IsAbs(shard) || strings.Contains(shard, "..") || strings.ContainsAny(shard, "/\\\x00") {
			return nil, fmt.Errorf("tensor %q: shard name %q is not a file name in the model directory", name, shard)
		}
	}
	return &idx, nil
}

func (m *Model) openIndex(dir, idxPath string, data []byte) error {
	idx, err := ParseIndex(data)
	if err != nil {
		return fmt.Errorf("%s: %w", idxPath, err)
	}
	byShard := map[string][]string{}
	for name, shard := range idx.WeightMap {
		byShard[shard] = append(byShard[shard], name)
	}
	shards := make([]string, 0, len(byShard))
	for s, names := range byShard {
		shards = append(shards, s)
		sort.Strings(names)
	}
	sort.Strings(shards)
	for _, s := range shards {
		p := filepath.Join(dir, s)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: shard %q named for tensor %q is missing", idxPath, s, byShard[s][0])
		}
		want := map[string]bool{}
		for _, n := range byShard[s] {
			want[n] = true
		}
		if err := m.addFile(p, want); err != nil {
			return err
		}
		for _, n := range byShard[s] {
			if _, ok := m.tensors[n]; !ok {
				return fmt.Errorf("%s: tensor %q is listed in shard %q but is not in it", idxPath, n, s)
			}
		}
	}
	return nil
}

// addFile opens one safetensors file. If only is non-nil, tensors of the
// file that the index does not assign to it are ignored (as transformers does).
func (m *Model) addFile(path string, only map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening model: %w", err)
	}
	m.files = append(m.files, f)
	return m.addOpened(f, path, only)
}

// addOpened reads the header of the open file f, called name in messages.
func (m *Model) addOpened(f *os.File, name string, only map[string]bool) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	h, err := ReadHeader(f, st.Size(), name)
	if err != nil {
		return err
	}
	if m.tensors == nil {
		m.tensors = map[string]*Tensor{}
		m.Metadata = h.Metadata
	}
	m.shards = append(m.shards, name)
	for _, ti := range h.Tensors {
		if only != nil && !only[ti.Name] {
			continue
		}
		if prev, ok := m.tensors[ti.Name]; ok {
			return fmt.Errorf("%s: tensor %q is also in %s", name, ti.Name, prev.File)
		}
		m.tensors[ti.Name] = &Tensor{TensorInfo: ti, f: f}
	}
	return nil
}

func (m *Model) finish() {
	m.names = make([]string, 0, len(m.tensors))
	for n := range m.tensors {
		m.names = append(m.names, n)
	}
	sort.Strings(m.names)
}

// Names returns the tensor names in sorted order.
func (m *Model) Names() []string { return m.names }

// Tensor returns the named tensor.
func (m *Model) Tensor(name string) (*Tensor, bool) {
	t, ok := m.tensors[name]
	return t, ok
}

// Shards returns the paths of the files the model was read from.
// For standard input it is StdinName.
func (m *Model) Shards() []string {
	return append([]string(nil), m.shards...)
}

// ReadFile returns a file of the model directory (config.json, tokenizer
// files). It reports os.ErrNotExist when the model has no directory.
func (m *Model) ReadFile(name string) ([]byte, error) {
	if m.Dir == "" {
		return nil, fmt.Errorf("%s: %s: %w", m.Path, name, os.ErrNotExist)
	}
	return os.ReadFile(filepath.Join(m.Dir, name))
}

// Close closes the model's files and removes a standard-input spool.
func (m *Model) Close() error {
	var first error
	for _, f := range m.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	m.files = nil
	if m.spool != "" {
		os.Remove(m.spool)
		m.spool = ""
	}
	return first
}

// ReadAt reads len(p) bytes of the tensor's data starting at byte off of the
// tensor. Reading past the tensor or a file that shrank is an error naming the
// file and tensor.
func (t *Tensor) ReadAt(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > t.Size {
		return fmt.Errorf("%s: tensor %q: read of %d bytes at %d is outside the tensor (%d bytes)", t.File, t.Name, len(p), off, t.Size)
	}
	n, err := t.f.ReadAt(p, t.Offset+off)
	if n == len(p) {
		return nil
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%s: tensor %q: file changed or truncated while reading: %w", t.File, t.Name, err)
}
