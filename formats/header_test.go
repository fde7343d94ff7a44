package formats

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawFile returns a safetensors file made of a length prefix, the given
// header text and dataLen zero bytes of data.
func rawFile(header string, dataLen int) []byte {
	b := make([]byte, 8, 8+len(header)+dataLen)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, dataLen)...)
}

// lengthOnly returns a file whose length prefix claims n header bytes.
func lengthOnly(n uint64, total int) []byte {
	b := make([]byte, total)
	binary.LittleEndian.PutUint64(b, n)
	return b
}

// TestMalformed opens malformed files and directories and checks the exact
// error message, with the temporary directory replaced by DIR.
func TestMalformed(t *testing.T) {
	type files map[string][]byte
	cases := []struct {
		name  string
		files files // relative path → content; "m" is opened unless open is set
		open  string
		want  string
	}{
		{
			name:  "shorter than the length prefix",
			files: files{"m.safetensors": {1, 2, 3}},
			want:  "DIR/m.safetensors: not a safetensors file: 3 bytes, shorter than the 8-byte header length",
		},
		{
			name:  "header length larger than the file",
			files: files{"m.safetensors": lengthOnly(1000, 100)},
			want:  "DIR/m.safetensors: header length 1000 is larger than the file (100 bytes)",
		},
		{
			name:  "header length over 100 MiB",
			files: files{"m.safetensors": lengthOnly(100<<20+1, 16)},
			want:  "DIR/m.safetensors: header length 104857601 is larger than the 100 MiB limit",
		},
		{
			name:  "invalid JSON",
			files: files{"m.safetensors": rawFile(`{"a":{"dtype":"F32",`, 0)},
			want:  "DIR/m.safetensors: header is not valid JSON: unexpected EOF",
		},
		{
			name:  "trailing text after the JSON object",
			files: files{"m.safetensors": rawFile(`{} x`, 0)},
			want:  "DIR/m.safetensors: header is not valid JSON: trailing data",
		},
		{
			name:  "not UTF-8",
			files: files{"m.safetensors": rawFile("{\"a\xff\":{}}", 0)},
			want:  "DIR/m.safetensors: header is not valid UTF-8",
		},
		{
			name:  "not an object",
			files: files{"m.safetensors": rawFile(`[1,2]`, 0)},
			want:  "DIR/m.safetensors: header is not a JSON object",
		},
		{
			name: "duplicate names",
			files: files{"m.safetensors": rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},`+
				`"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8)},
			want: `DIR/m.safetensors: tensor "a": duplicate name in header`,
		},
		{
			name:  "unknown dtype",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F12","shape":[1],"data_offsets":[0,4]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": unknown dtype "F12"`,
		},
		{
			name:  "element count overflow",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": shape [4294967296 4294967296] overflows the element count`,
		},
		{
			name:  "byte count overflow",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}`, 8)},
			want:  `DIR/m.safetensors: tensor "w": shape [2305843009213693952] overflows the element count`,
		},
		{
			name:  "negative dimension",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": negative dimension in shape [-1]`,
		},
		{
			name:  "missing data_offsets",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[1]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": entry needs dtype, shape and data_offsets`,
		},
		{
			name:  "entry is not an object",
			files: files{"m.safetensors": rawFile(`{"w":5}`, 0)},
			want:  `DIR/m.safetensors: tensor "w": entry is a JSON number, not an object`,
		},
		{
			name:  "fractional dimension",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": shape holds a number 1.5 where an integer is expected`,
		},
		{
			name:  "dtype not a string",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": dtype holds a number where a string is expected`,
		},
		{
			name:  "three data_offsets",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": data_offsets must have two entries, got 3`,
		},
		{
			name:  "offsets out of range",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": data_offsets [0, 8] run past the end of the data (4 bytes; file truncated?)`,
		},
		{
			name:  "negative offsets",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, 4)},
			want:  `DIR/m.safetensors: tensor "w": negative data_offsets [-4, 0]`,
		},
		{
			name:  "reversed offsets",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, 8)},
			want:  `DIR/m.safetensors: tensor "w": data_offsets [8, 4] are reversed`,
		},
		{
			name: "overlapping tensors",
			files: files{"m.safetensors": rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},`+
				`"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, 12)},
			want: `DIR/m.safetensors: tensor "b": data_offsets [4, 12] overlap tensor "a"`,
		},
		{
			name: "gap between tensors",
			files: files{"m.safetensors": rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},`+
				`"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12)},
			want: `DIR/m.safetensors: tensor "b": gap of 4 bytes before its data at offset 8`,
		},
		{
			name:  "undescribed bytes after the last tensor",
			files: files{"m.safetensors": rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 10)},
			want:  `DIR/m.safetensors: 6 bytes of data after the last tensor are not described by the header`,
		},
		{
			name:  "byte length does not match the shape",
			files: files{"m.safetensors": rawFile(`{"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,6]}}`, 6)},
			want:  `DIR/m.safetensors: tensor "w": byte length 6 does not match shape [2 2] of BF16 (8 bytes)`,
		},
		{
			name:  "metadata value not a string",
			files: files{"m.safetensors": rawFile(`{"__metadata__":{"format":1}}`, 0)},
			want:  `DIR/m.safetensors: __metadata__ is not a map of strings to strings`,
		},
		{
			name:  "metadata not an object",
			files: files{"m.safetensors": rawFile(`{"__metadata__":["pt"]}`, 0)},
			want:  `DIR/m.safetensors: __metadata__ is not a map of strings to strings`,
		},
		{
			name: "index names a missing shard",
			files: files{
				"m/model-00001-of-00002.safetensors": goodFile("a"),
				"m/model.safetensors.index.json":     []byte(`{"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`),
			},
			open: "m",
			want: `DIR/m/model.safetensors.index.json: shard "model-00002-of-00002.safetensors" named for tensor "b" is missing`,
		},
		{
			name: "index names a tensor the shard lacks",
			files: files{
				"m/model-00001-of-00002.safetensors": goodFile("a"),
				"m/model-00002-of-00002.safetensors": goodFile("b"),
				"m/model.safetensors.index.json":     []byte(`{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","z":"model-00002-of-00002.safetensors"}}`),
			},
			open: "m",
			want: `DIR/m/model.safetensors.index.json: tensor "z" is listed in shard "model-00002-of-00002.safetensors" but is not in it`,
		},
		{
			name: "index is not JSON",
			files: files{
				"m/model-00001-of-00001.safetensors": goodFile("a"),
				"m/model.safetensors.index.json":     []byte(`{"weight_map":`),
			},
			open: "m",
			want: `DIR/m/model.safetensors.index.json: not a valid index: unexpected end of JSON input`,
		},
		{
			name: "index leaves the directory",
			files: files{
				"m/model.safetensors.index.json": []byte(`{"weight_map":{"a":"../x.safetensors"}}`),
			},
			open: "m",
			want: `DIR/m/model.safetensors.index.json: tensor "a": shard name "../x.safetensors" is not a file name in the model directory`,
		},
		{
			name: "index without weight_map",
			files: files{
				"m/model.safetensors.index.json": []byte(`{"metadata":{"total_size":8}}`),
			},
			open: "m",
			want: `DIR/m/model.safetensors.index.json: index has no weight_map entries`,
		},
		{
			name: "tensor in two files without an index",
			files: files{
				"m/a.safetensors": goodFile("a"),
				"m/b.safetensors": goodFile("a"),
			},
			open: "m",
			want: `DIR/m: 2 *.safetensors files but no model.safetensors.index.json to say how they fit together`,
		},
		{
			name:  "empty directory",
			files: files{"m/config.json": []byte(`{}`)},
			open:  "m",
			want:  `DIR/m: no model.safetensors, model.safetensors.index.json or *.safetensors file in the directory`,
		},
		{
			name:  "missing path",
			files: files{},
			open:  "nothing",
			want:  `opening model: stat DIR/nothing: no such file or directory`,
		},
	}
	if len(cases) < 15 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for rel, data := range c.files {
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			open := c.open
			if open == "" {
				open = "m.safetensors"
			}
			m, err := Open(filepath.Join(dir, open))
			if err == nil {
				m.Close()
				t.Fatalf("Open succeeded, want error %q", c.want)
			}
			if got := strings.ReplaceAll(err.Error(), dir, "DIR"); got != c.want {
				t.Errorf("error\n got: %s\nwant: %s", got, c.want)
			}
		})
	}
}

// goodFile is a valid file holding one F32 tensor [2] named name.
func goodFile(name string) []byte {
	return rawFile(`{"`+name+`":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8)
}

// TestParseHeaderValid checks the accepted corner cases: zero-size tensors,
// scalars, space padding, an empty header, offsets listed out of order and
// metadata.
func TestParseHeaderValid(t *testing.T) {
	h, err := ParseHeader([]byte(`{"__metadata__":{"format":"pt"},`+
		`"b":{"dtype":"BF16","shape":[3],"data_offsets":[4,10]},`+
		`"e":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},`+
		`"s":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}   `), 10)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range h.Tensors {
		names = append(names, ti.Name)
	}
	if got := strings.Join(names, ","); got != "s,e,b" {
		t.Errorf("offset order = %s, want s,e,b", got)
	}
	if h.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v", h.Metadata)
	}
	if n := h.Tensors[0].NumElements(); n != 1 {
		t.Errorf("scalar has %d elements", n)
	}
	if h, err := ParseHeader([]byte(`{}`), 0); err != nil || len(h.Tensors) != 0 {
		t.Errorf("empty header: %v %v", h, err)
	}
}

// TestReadTruncated checks that a file truncated after opening gives an
// error naming the file and tensor, not a crash.
func TestReadTruncated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(p, goodFile("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := os.Truncate(p, int64(len(goodFile("w"))-2)); err != nil {
		t.Fatal(err)
	}
	tt, _ := m.Tensor("w")
	_, err = tt.ReadFloat32(make([]float32, 2), 0, nil)
	want := p + `: tensor "w": file changed or truncated while reading: unexpected EOF`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	if err := tt.ReadAt(make([]byte, 4), 6); err == nil || !strings.Contains(err.Error(), "outside the tensor") {
		t.Errorf("read past the tensor: %v", err)
	}
}
