package formats

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// Summary describes an opened model for `gomerge inspect`. Its JSON form
// (field names and order, tensors sorted by name, shards in file order) is
// stable for scripts.
type Summary struct {
	Path     string            `json:"path"`
	Tensors  []TensorSummary   `json:"tensors"`
	Totals   Totals            `json:"totals"`
	Shards   []ShardSummary    `json:"shards"`
	Metadata map[string]string `json:"metadata"`
}

// TensorSummary is one tensor of a Summary.
type TensorSummary struct {
	Name     string  `json:"name"`
	DType    DType   `json:"dtype"`
	Shape    []int64 `json:"shape"`
	Elements int64   `json:"elements"`
	Bytes    int64   `json:"bytes"`
	// Shard is the base name of the file holding the tensor (StdinName
	// for standard input); Summary.Path says where it is.
	Shard string `json:"shard"`
}

// Totals sums a model's tensors.
type Totals struct {
	Tensors    int64                 `json:"tensors"`
	Parameters int64                 `json:"parameters"`
	Bytes      int64                 `json:"bytes"`
	ByDType    map[DType]DTypeTotals `json:"by_dtype"`
}

// DTypeTotals sums the tensors of one dtype.
type DTypeTotals struct {
	Tensors    int64 `json:"tensors"`
	Parameters int64 `json:"parameters"`
	Bytes      int64 `json:"bytes"`
}

// ShardSummary is one file of a model: its base name, the number of
// tensors it holds for the model and their bytes (headers excluded).
type ShardSummary struct {
	File    string `json:"file"`
	Tensors int64  `json:"tensors"`
	Bytes   int64  `json:"bytes"`
}

// Summarize describes m from its headers (no tensor data is read).
func Summarize(m *Model) *Summary {
	s := &Summary{
		Path:     m.Path,
		Tensors:  []TensorSummary{},
		Metadata: map[string]string{},
		Totals:   Totals{ByDType: map[DType]DTypeTotals{}},
	}
	for k, v := range m.Metadata {
		s.Metadata[k] = v
	}
	display := func(file string) string {
		if file == StdinName {
			return file
		}
		return filepath.Base(file)
	}
	shardIdx := map[string]int{}
	for _, f := range m.Shards() {
		shardIdx[f] = len(s.Shards)
		s.Shards = append(s.Shards, ShardSummary{File: display(f)})
	}
	for _, n := range m.Names() {
		t := m.tensors[n]
		e := t.NumElements()
		s.Tensors = append(s.Tensors, TensorSummary{
			Name: n, DType: t.DType, Shape: append([]int64{}, t.Shape...),
			Elements: e, Bytes: t.Size, Shard: display(t.File),
		})
		s.Totals.Tensors++
		s.Totals.Parameters += e
		s.Totals.Bytes += t.Size
		d := s.Totals.ByDType[t.DType]
		d.Tensors++
		d.Parameters += e
		d.Bytes += t.Size
		s.Totals.ByDType[t.DType] = d
		if i, ok := shardIdx[t.File]; ok {
			s.Shards[i].Tensors++
			s.Shards[i].Bytes += t.Size
		}
	}
	return s
}

// WriteText prints the summary for people: tensors, totals by dtype,
// shards and metadata, in aligned columns.
func (s *Summary) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model: %s\n\n", s.Path)
	fmt.Fprintln(tw, "TENSOR\tDTYPE\tSHAPE\tELEMENTS\tBYTES")
	for _, t := range s.Tensors {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", t.Name, t.DType, shapeString(t.Shape), t.Elements, t.Bytes)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "DTYPE\tTENSORS\tPARAMETERS\tBYTES")
	dts := make([]string, 0, len(s.Totals.ByDType))
	for d := range s.Totals.ByDType {
		dts = append(dts, string(d))
	}
	sort.Strings(dts)
	for _, d := range dts {
		t := s.Totals.ByDType[DType(d)]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", d, t.Tensors, t.Parameters, t.Bytes)
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\n", s.Totals.Tensors, s.Totals.Parameters, s.Totals.Bytes)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "SHARD\tTENSORS\tBYTES")
	for _, sh := range s.Shards {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", sh.File, sh.Tensors, sh.Bytes)
	}
	if len(s.Metadata) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "METADATA\tVALUE")
		keys := make([]string, 0, len(s.Metadata))
		for k := range s.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\n", oneLine(k), oneLine(s.Metadata[k]))
		}
	}
	return tw.Flush()
}

func shapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// oneLine quotes a metadata string that would break the table.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\t\n\r") || s == "" {
		return fmt.Sprintf("%q", s)
	}
	return s
}
