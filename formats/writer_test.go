package formats

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// allDTypes lists every dtype of the format.
var allDTypes = []DType{F64, F32, F16, BF16, F8E4M3, F8E5M2, I64, I32, I16, I8, U64, U32, U16, U8, Bool}

// writeRandom writes a checkpoint of the given tensors filled with random
// bytes (any bit pattern, NaNs included) and returns the path.
func writeRandom(t *testing.T, path string, specs []TensorSpec, opts WriteOptions, seed uint64) string {
	t.Helper()
	w, err := Create(path, specs, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 99))
	for _, s := range specs {
		b := make([]byte, s.Size())
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if s.DType == Bool {
			for i := range b {
				b[i] &= 1
			}
		}
		if err := w.WriteAt(s.Name, b, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}

// everyDTypeSpecs declares one tensor of each dtype (plus a scalar and an
// empty tensor), in sorted name order as Convert writes them.
func everyDTypeSpecs() []TensorSpec {
	var specs []TensorSpec
	for i, dt := range allDTypes {
		specs = append(specs, TensorSpec{Name: "t." + strings.ToLower(string(dt)), DType: dt, Shape: []int64{int64(3 + i), 17}})
	}
	specs = append(specs, TensorSpec{Name: "z.empty", DType: BF16, Shape: []int64{0, 4}},
		TensorSpec{Name: "z.scalar", DType: F32, Shape: []int64{}})
	sort.Slice(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	return specs
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustOpen(t *testing.T, p string) *Model {
	t.Helper()
	m, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// noTemps fails if dir holds a leftover temporary file.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".gomerge-tmp-") {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

// TestRoundTripLayouts converts a file of every dtype to a sharded
// directory, then to a standard-output stream, then back to a file: every
// step is byte-identical where no conversion happens.
func TestRoundTripLayouts(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	specs := everyDTypeSpecs()
	a := writeRandom(t, filepath.Join(dir, "a.safetensors"), specs, WriteOptions{Metadata: map[string]string{"source": "test"}}, 1)
	orig := mustRead(t, a)

	// File → sharded directory.
	sharded := filepath.Join(dir, "sharded")
	if err := Convert(ctx, mustOpen(t, a), sharded, ConvertOptions{Write: WriteOptions{ShardSize: 300}, Threads: 3}); err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(sharded, "model-*-of-*.safetensors"))
	if len(shards) < 4 {
		t.Fatalf("shards = %v, want at least 4 with a 300-byte limit", shards)
	}
	var idx struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(sharded, IndexFile)), &idx); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, s := range specs {
		total += s.Size()
		if !strings.HasSuffix(idx.WeightMap[s.Name], fmt.Sprintf("-of-%05d.safetensors", len(shards))) {
			t.Errorf("weight_map[%s] = %q", s.Name, idx.WeightMap[s.Name])
		}
	}
	if idx.Metadata["total_size"] != total {
		t.Errorf("total_size = %d, want %d", idx.Metadata["total_size"], total)
	}
	for _, p := range append(shards, a) {
		b := mustRead(t, p)
		n := binary.LittleEndian.Uint64(b)
		if (8+n)%8 != 0 {
			t.Errorf("%s: data starts at %d, not a multiple of 8", p, 8+n)
		}
		var hdr map[string]json.RawMessage
		json.Unmarshal(b[8:8+n], &hdr)
		if string(hdr["__metadata__"]) != `{"format":"pt","source":"test"}` {
			t.Errorf("%s: __metadata__ = %s", p, hdr["__metadata__"])
		}
	}
	ms := mustOpen(t, sharded)
	if !reflect.DeepEqual(ms.Names(), mustOpen(t, a).Names()) {
		t.Fatalf("names differ: %v", ms.Names())
	}

	// Sharded directory → standard output.
	var stream bytes.Buffer
	if err := Convert(ctx, ms, "-", ConvertOptions{Write: WriteOptions{Stdout: &stream}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stream.Bytes(), orig) {
		t.Fatalf("stream (%d bytes) differs from the original file (%d bytes)", stream.Len(), len(orig))
	}

	// Standard input → file.
	in, err := OpenContext(ctx, "-", bytes.NewReader(stream.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b := filepath.Join(dir, "b.safetensors")
	if err := Convert(ctx, in, b, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, b), orig) {
		t.Fatal("file → shards → stream → file is not byte-identical")
	}
	// A single-file directory output holds model.safetensors and no index.
	single := filepath.Join(dir, "single")
	if err := Convert(ctx, in, single, ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(single, "model.safetensors")), orig) {
		t.Error("directory output differs")
	}
	if _, err := os.Stat(filepath.Join(single, IndexFile)); !os.IsNotExist(err) {
		t.Errorf("single-shard directory has an index: %v", err)
	}
	for _, d := range []string{dir, sharded, single} {
		noTemps(t, d)
	}
}

// TestConvertDTypes converts a model of every dtype to each writable float
// dtype and checks each tensor against DecodeFloat32/EncodeFloat32 (whose
// results TestDecodeExhaustive and TestEncodeMatchesReference pin to the
// scalar references), integers byte for byte, and that bf16 → f32 → bf16
// and f16 → f32 → f16 are lossless.
func TestConvertDTypes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	src := writeRandom(t, filepath.Join(dir, "src.safetensors"), everyDTypeSpecs(), WriteOptions{}, 2)
	m := mustOpen(t, src)
	for _, to := range []DType{F64, F32, F16, BF16} {
		out := filepath.Join(dir, "to-"+string(to)+".safetensors")
		if err := Convert(ctx, m, out, ConvertOptions{DType: to, Threads: 2}); err != nil {
			t.Fatal(err)
		}
		c := mustOpen(t, out)
		for _, n := range m.Names() {
			st, _ := m.Tensor(n)
			ct, _ := c.Tensor(n)
			raw := make([]byte, st.Size)
			st.ReadAt(raw, 0)
			got := make([]byte, ct.Size)
			ct.ReadAt(got, 0)
			if !st.DType.IsFloat() {
				if ct.DType != st.DType || !bytes.Equal(raw, got) {
					t.Errorf("%s → %s: integer tensor %s changed", st.DType, to, n)
				}
				continue
			}
			if ct.DType != to || !reflect.DeepEqual(ct.Shape, st.Shape) {
				t.Fatalf("%s: dtype %s shape %v", n, ct.DType, ct.Shape)
			}
			f := make([]float32, st.NumElements())
			DecodeFloat32(f, raw, st.DType)
			want := make([]byte, len(f)*to.Size())
			EncodeFloat32(want, f, to)
			if st.DType == to {
				want = raw // no conversion: byte for byte, NaN payloads included
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s → %s: tensor %s differs from the reference conversion", st.DType, to, n)
			}
		}
	}
	// Lossless widening and narrowing back.
	for _, c := range []struct{ narrow, wide DType }{{BF16, F32}, {F16, F32}, {BF16, F64}, {F32, F64}} {
		name := "t." + strings.ToLower(string(c.narrow))
		orig, _ := m.Tensor(name)
		wideP := filepath.Join(dir, "wide.safetensors")
		backP := filepath.Join(dir, "back.safetensors")
		if err := Convert(ctx, m, wideP, ConvertOptions{DType: c.wide}); err != nil {
			t.Fatal(err)
		}
		if err := Convert(ctx, mustOpen(t, wideP), backP, ConvertOptions{DType: c.narrow}); err != nil {
			t.Fatal(err)
		}
		bt, _ := mustOpen(t, backP).Tensor(name)
		a, b := make([]byte, orig.Size), make([]byte, bt.Size)
		orig.ReadAt(a, 0)
		bt.ReadAt(b, 0)
		// NaN payloads may be quieted; compare the rest bit for bit.
		for i := 0; i < len(a); i += c.narrow.Size() {
			x, y := a[i:i+c.narrow.Size()], b[i:i+c.narrow.Size()]
			if !bytes.Equal(x, y) && !(isNaNBytes(x, c.narrow) && isNaNBytes(y, c.narrow)) {
				t.Fatalf("%s → %s → %s: element %d: %x became %x", c.narrow, c.wide, c.narrow, i/c.narrow.Size(), x, y)
			}
		}
	}
	if err := Convert(ctx, m, filepath.Join(dir, "x.safetensors"), ConvertOptions{DType: F8E4M3}); err == nil {
		t.Error("converting to F8_E4M3 succeeded")
	}
}

func isNaNBytes(b []byte, dt DType) bool {
	f := make([]float32, 1)
	DecodeFloat32(f, b, dt)
	return f[0] != f[0]
}

// TestCancelKeepsTarget interrupts writes — a cancelled context in Convert,
// and Abort after partial writes — and checks that the old targets are
// intact and no temporary file is left.
func TestCancelKeepsTarget(t *testing.T) {
	dir := t.TempDir()
	src := writeRandom(t, filepath.Join(dir, "src.safetensors"), everyDTypeSpecs(), WriteOptions{}, 3)
	m := mustOpen(t, src)
	target := filepath.Join(dir, "out.safetensors")
	os.WriteFile(target, []byte("old file"), 0o644)
	targetDir := filepath.Join(dir, "outdir")
	os.MkdirAll(targetDir, 0o755)
	os.WriteFile(filepath.Join(targetDir, "model.safetensors"), []byte("old shard"), 0o644)
	newDir := filepath.Join(dir, "newdir")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, out := range []string{target, targetDir, newDir} {
		err := Convert(ctx, m, out, ConvertOptions{Write: WriteOptions{ShardSize: 100}})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", out, err)
		}
	}
	// Progress-triggered cancellation in the middle of the copy.
	ctx2, cancel2 := context.WithCancel(context.Background())
	calls := 0
	err := Convert(ctx2, m, targetDir, ConvertOptions{Threads: 1, Progress: func(int64) {
		if calls++; calls == 3 {
			cancel2()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("mid-copy cancel: err = %v", err)
	}
	// Abort after partial writes.
	w, err := Create(target, everyDTypeSpecs(), WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteAt("t.f32", make([]byte, 8), 0); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort()
	if err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}

	if got := string(mustRead(t, target)); got != "old file" {
		t.Errorf("target file changed: %q", got)
	}
	if got := string(mustRead(t, filepath.Join(targetDir, "model.safetensors"))); got != "old shard" {
		t.Errorf("target directory changed: %q", got)
	}
	if _, err := os.Stat(newDir); !os.IsNotExist(err) {
		t.Errorf("new output directory exists after cancel: %v", err)
	}
	noTemps(t, dir)
	noTemps(t, targetDir)
}

// TestStaleShards writes a single-file layout into a directory holding an
// earlier sharded layout: the old shards and index go, other files stay.
func TestStaleShards(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	src := writeRandom(t, filepath.Join(dir, "src.safetensors"), everyDTypeSpecs(), WriteOptions{}, 4)
	m := mustOpen(t, src)
	if err := Convert(context.Background(), m, out, ConvertOptions{Write: WriteOptions{ShardSize: 200}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(out, "README.md"), []byte("card"), 0o644)
	os.WriteFile(filepath.Join(out, "model-00009-of-00012.safetensors"), []byte("older"), 0o644)
	if err := Convert(context.Background(), m, out, ConvertOptions{Write: WriteOptions{ShardSize: -1}}); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"README.md", "model.safetensors"}; !reflect.DeepEqual(names, want) {
		t.Errorf("directory holds %v, want %v", names, want)
	}
	if !bytes.Equal(mustRead(t, filepath.Join(out, "model.safetensors")), mustRead(t, src)) {
		t.Error("model.safetensors differs from the source")
	}
}

// TestRefuseInputAsOutput checks every way an output can overwrite an input.
func TestRefuseInputAsOutput(t *testing.T) {
	dir := t.TempDir()
	specs := everyDTypeSpecs()
	file := writeRandom(t, filepath.Join(dir, "a.safetensors"), specs, WriteOptions{}, 5)
	mdir := filepath.Join(dir, "m")
	writeRandom(t, mdir, specs, WriteOptions{ShardSize: 400}, 6)
	single := filepath.Join(dir, "single")
	writeRandom(t, single, specs, WriteOptions{}, 7)
	shard, _ := filepath.Glob(filepath.Join(mdir, "model-00001-*"))
	cases := []struct{ in, out, want string }{
		{file, file, "output DIR/a.safetensors would overwrite the input DIR/a.safetensors"},
		{file, dir + "/./a.safetensors", "would overwrite the input"},
		{mdir, mdir, "output DIR/m would overwrite the input DIR/m"},
		{mdir, mdir + "/", "would overwrite the input"},
		{single, filepath.Join(single, "model.safetensors"), "output DIR/single/model.safetensors would overwrite the input DIR/single"},
		{shard[0], mdir, "output directory DIR/m holds the input DIR/m/model-00001-of-"},
		{filepath.Join(single, "model.safetensors"), single + "/", "would overwrite the input"},
	}
	for _, c := range cases {
		m := mustOpen(t, c.in)
		before := mustRead(t, m.Shards()[0])
		err := Convert(context.Background(), m, c.out, ConvertOptions{})
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir, "DIR"), c.want) {
			t.Errorf("convert %s → %s: err = %v, want %q", c.in, c.out, err, c.want)
		}
		if !bytes.Equal(before, mustRead(t, m.Shards()[0])) {
			t.Errorf("%s changed", c.in)
		}
	}
	// A sibling output in the same directory is fine.
	m := mustOpen(t, file)
	if err := Convert(context.Background(), m, filepath.Join(dir, "b.safetensors"), ConvertOptions{}); err != nil {
		t.Error(err)
	}
}

// TestSyncOutput writes with Sync into a new nested directory.
func TestSyncOutput(t *testing.T) {
	dir := t.TempDir()
	src := writeRandom(t, filepath.Join(dir, "src.safetensors"), everyDTypeSpecs(), WriteOptions{}, 8)
	out := filepath.Join(dir, "synced")
	if err := Convert(context.Background(), mustOpen(t, src), out, ConvertOptions{Write: WriteOptions{Sync: true, ShardSize: 500}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Convert(context.Background(), mustOpen(t, out), "-", ConvertOptions{Write: WriteOptions{Stdout: &buf}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), mustRead(t, src)) {
		t.Error("synced output differs")
	}
	shards, _ := filepath.Glob(filepath.Join(out, "model-00001-of-*.safetensors"))
	if len(shards) != 1 {
		t.Fatalf("shards %v", shards)
	}
	st, err := os.Stat(shards[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

// TestStdinSpool checks that the standard-input spool leaves no file, for
// a good stream and a bad one.
func TestStdinSpool(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	good := rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8)
	m, err := OpenContext(context.Background(), "-", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spool visible while open: %v", ents)
	}
	if got := m.Shards(); !reflect.DeepEqual(got, []string{StdinName}) {
		t.Errorf("Shards = %v", got)
	}
	tt, _ := m.Tensor("w")
	if tt.File != StdinName {
		t.Errorf("File = %q", tt.File)
	}
	m.Close()
	_, err = OpenContext(context.Background(), "-", bytes.NewReader(good[:20]))
	if err == nil || err.Error() != "<stdin>: header length 54 is larger than the file (20 bytes)" {
		t.Errorf("truncated stdin: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := OpenContext(ctx, "-", bytes.NewReader(good)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled spool: %v", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spool left behind: %v", ents)
	}
}

// TestCreateRefuses checks the declarations Create rejects.
func TestCreateRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		specs []TensorSpec
		want  string
	}{
		{[]TensorSpec{{Name: "a", DType: F32, Shape: []int64{-2}}}, `tensor "a": negative dimension in shape [-2]`},
		{[]TensorSpec{{Name: "a", DType: F32, Shape: []int64{1 << 40, 1 << 40}}}, `tensor "a": shape [1099511627776 1099511627776] overflows`},
		{[]TensorSpec{{Name: "a", DType: "X", Shape: nil}}, `tensor "a": unknown dtype "X"`},
		{[]TensorSpec{{Name: "a", DType: F32}, {Name: "a", DType: F32}}, `tensor "a" declared twice`},
		{[]TensorSpec{{Name: "__metadata__", DType: F32}}, `tensor name "__metadata__" is not allowed`},
	}
	for _, c := range cases {
		_, err := Create(filepath.Join(dir, "x.safetensors"), c.specs, WriteOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.specs, err, c.want)
		}
	}
	w, err := Create(filepath.Join(dir, "d"), []TensorSpec{{Name: "a", DType: F32}}, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.AddFile("../escape.json", []byte("{}"))
	if err := w.Commit(); err == nil || !strings.Contains(err.Error(), `extra file name "../escape.json" is not allowed`) {
		t.Errorf("bad extra file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "d")); !os.IsNotExist(err) {
		t.Errorf("failed commit left the directory: %v", err)
	}
	if err := w.WriteAt("nope", nil, 0); err == nil {
		t.Error("write of an undeclared tensor succeeded")
	}
}

// TestPlanShards checks mergekit's sharding rule: flush before a tensor
// that would exceed the limit, so an oversized tensor gets its own shard.
func TestPlanShards(t *testing.T) {
	mk := func(sizes ...int64) []TensorSpec {
		var s []TensorSpec
		for i, n := range sizes {
			s = append(s, TensorSpec{Name: string(rune('a' + i)), DType: U8, Shape: []int64{n}})
		}
		return s
	}
	layout := func(sh []*outShard) string {
		var parts []string
		for _, s := range sh {
			var names []string
			for _, sp := range s.specs {
				names = append(names, sp.Name)
			}
			parts = append(parts, s.final+":"+strings.Join(names, ""))
		}
		return strings.Join(parts, " ")
	}
	cases := []struct {
		sizes []int64
		limit int64
		want  string
	}{
		{[]int64{4, 4, 4}, 8, "model-00001-of-00002.safetensors:ab model-00002-of-00002.safetensors:c"},
		{[]int64{4, 20, 4}, 8, "model-00001-of-00003.safetensors:a model-00002-of-00003.safetensors:b model-00003-of-00003.safetensors:c"},
		{[]int64{20}, 8, "model.safetensors:a"},
		{[]int64{4, 4, 4}, -1, "model.safetensors:abc"},
		{[]int64{}, 8, "model.safetensors:"},
		{[]int64{3, 5, 0, 8}, 8, "model-00001-of-00002.safetensors:abc model-00002-of-00002.safetensors:d"},
	}
	for _, c := range cases {
		if got := layout(planShards(mk(c.sizes...), c.limit)); got != c.want {
			t.Errorf("%v limit %d: %s, want %s", c.sizes, c.limit, got, c.want)
		}
	}
}

// TestCopyModelFiles checks config.json editing and tokenizer copying.
func TestCopyModelFiles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeRandom(t, src, []TensorSpec{{Name: "w", DType: BF16, Shape: []int64{4}}}, WriteOptions{}, 9)
	cfg := `{"torch_dtype":"float32","vocab_size":32000,"big":12345678901234567890,"seed":9007199254740993,"eps":1e-05,"chat":"<b>&"}`
	os.WriteFile(filepath.Join(src, "config.json"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(src, "tokenizer.json"), []byte(`{"x":1}`), 0o644)
	os.WriteFile(filepath.Join(src, "unrelated.txt"), []byte(`x`), 0o644)
	out := filepath.Join(dir, "out")
	if err := Convert(context.Background(), mustOpen(t, src), out, ConvertOptions{DType: F16}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(mustRead(t, filepath.Join(out, "config.json"))))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"torch_dtype": "float16", "vocab_size": json.Number("32000"), "big": json.Number("12345678901234567890"),
		"seed": json.Number("9007199254740993"), "eps": json.Number("0.00001"), "chat": "<b>&"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config.json = %v, want %v", got, want)
	}
	if !strings.Contains(string(mustRead(t, filepath.Join(out, "config.json"))), `"<b>&"`) {
		t.Error("config.json escapes HTML characters")
	}
	if string(mustRead(t, filepath.Join(out, "tokenizer.json"))) != `{"x":1}` {
		t.Error("tokenizer.json not copied verbatim")
	}
	if _, err := os.Stat(filepath.Join(out, "unrelated.txt")); !os.IsNotExist(err) {
		t.Error("unrelated file copied")
	}
	// A file output gets no extra files; a lone input file has none to give.
	if err := Convert(context.Background(), mustOpen(t, filepath.Join(out, "model.safetensors")), filepath.Join(dir, "x"), ConvertOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x", "config.json")); err != nil {
		t.Errorf("lone file beside config.json: %v", err)
	}
}

// withCopyPaths runs f with the in-kernel copy and with read-and-write.
func withCopyPaths(t *testing.T, f func(t *testing.T)) {
	for _, k := range []bool{true, false} {
		t.Run(fmt.Sprintf("kernelCopy=%v", k), func(t *testing.T) {
			old := kernelCopy
			kernelCopy = k
			defer func() { kernelCopy = old }()
			f(t)
		})
	}
}

// TestCopyPaths repeats the layout round trip and the truncation check
// with both same-dtype copy paths.
func TestCopyPaths(t *testing.T) {
	withCopyPaths(t, func(t *testing.T) {
		TestRoundTripLayouts(t)
		dir := t.TempDir()
		src := writeRandom(t, filepath.Join(dir, "src.safetensors"), everyDTypeSpecs(), WriteOptions{}, 10)
		m := mustOpen(t, src)
		st, _ := os.Stat(src)
		if err := os.Truncate(src, st.Size()-10); err != nil {
			t.Fatal(err)
		}
		err := Convert(context.Background(), m, filepath.Join(dir, "out.safetensors"), ConvertOptions{})
		// The last 10 bytes hold z.scalar and the end of t.u8; tensors are
		// copied in parallel, so either may report the truncation first.
		if err == nil || !(strings.Contains(err.Error(), src+`: tensor "t.u8": file changed or truncated while reading`) ||
			strings.Contains(err.Error(), src+`: tensor "z.scalar": file changed or truncated while reading`)) {
			t.Errorf("truncated input: %v", err)
		}
		noTemps(t, dir)
	})
}

// TestIsModelFileName checks which names a directory output may replace.
func TestIsModelFileName(t *testing.T) {
	for n, want := range map[string]bool{"model.safetensors": true, "model.safetensors.index.json": true, "model-00001-of-00002.safetensors": true,
		"model-final.safetensors": false, "model-1.safetensors": false, "model-00001-of-00002.safetensors.bak": false, "model-00001-of-00002.safetensorsx": false, "config.json": false, "model-123456-of-123456.safetensors": true} {
		if isModelFileName(n) != want {
			t.Errorf("%s: %v", n, !want)
		}
	}
}

// TestConvertProgressAndStdoutCancel checks that progress reports add up
// to the output's tensor bytes, for any thread count, and that a cancelled
// conversion to standard output writes nothing there.
func TestConvertProgressAndStdoutCancel(t *testing.T) {
	dir := t.TempDir()
	specs := everyDTypeSpecs()
	src := writeRandom(t, filepath.Join(dir, "src.safetensors"), specs, WriteOptions{}, 11)
	m := mustOpen(t, src)
	for _, threads := range []int{1, 3} {
		var total atomic.Int64
		var out bytes.Buffer
		err := Convert(context.Background(), m, "-", ConvertOptions{DType: F32, Threads: threads, Write: WriteOptions{Stdout: &out},
			Progress: func(n int64) { total.Add(n) }})
		if err != nil {
			t.Fatal(err)
		}
		var want int64
		for _, s := range OutputSpecs(m, F32) {
			want += s.Size()
		}
		if total.Load() != want {
			t.Errorf("threads %d: progress sums to %d, want %d", threads, total.Load(), want)
		}
		if int64(out.Len()) <= want {
			t.Errorf("stream of %d bytes for %d bytes of tensors", out.Len(), want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if err := Convert(ctx, m, "-", ConvertOptions{Write: WriteOptions{Stdout: &out}}); !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Errorf("cancelled: err %v, %d bytes written", err, out.Len())
	}
}
