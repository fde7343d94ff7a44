package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/model"
	"github.com/gomerge/gomerge/tokenizer"
)

// Dataset is an evaluation file: plain text, or JSONL records.
type Dataset struct {
	Path string
	// Format is "text" or "jsonl"; empty chooses by extension (.jsonl,
	// .ndjson → jsonl, anything else → text).
	Format string
}

// Row is one model's result on one data set.
type Row struct {
	Model string `json:"model"`
	Data  string `json:"data"`
	Result
}

type loadedData struct {
	name    string
	text    string
	records []Record
}

func readData(ds Dataset) (*loadedData, error) {
	format := ds.Format
	if format == "" {
		switch strings.ToLower(filepath.Ext(ds.Path)) {
		case ".jsonl", ".ndjson":
			format = "jsonl"
		default:
			format = "text"
		}
	}
	b, err := os.ReadFile(ds.Path)
	if err != nil {
		return nil, fmt.Errorf("reading data: %w", err)
	}
	d := &loadedData{name: ds.Path}
	switch format {
	case "text":
		d.text = string(b)
	case "jsonl":
		if d.records, err = ReadJSONL(strings.NewReader(string(b)), ds.Path); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%s: format %q: want text or jsonl", ds.Path, format)
	}
	return d, nil
}

// TokenizerFor returns the tokenizer of an opened checkpoint: its
// tokenizer.json (byte-level BPE) when the model directory has one, else the
// byte-level vocabulary (id = byte, BOS from config.json) when the
// vocabulary has at least 256 ids, else nil (token-id records only).
func TokenizerFor(src *formats.Model, cfg *model.Config) (Tokenizer, error) {
	if src.Dir != "" {
		data, err := src.ReadFile("tokenizer.json")
		if err == nil {
			t, err := tokenizer.Parse(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.Join(src.Dir, "tokenizer.json"), err)
			}
			return t, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if cfg.Vocab >= 256 {
		return tokenizer.Bytes{BOS: cfg.BOS}, nil
	}
	return nil, nil
}

// Run evaluates every model on every data set, models in order, and returns
// one row per pair.
func Run(ctx context.Context, models []*formats.Model, data []Dataset, opts Options) ([]Row, error) {
	var sets []*loadedData
	for _, ds := range data {
		d, err := readData(ds)
		if err != nil {
			return nil, err
		}
		sets = append(sets, d)
	}
	var rows []Row
	for _, src := range models {
		m, err := model.Load(ctx, src)
		if err != nil {
			return nil, err
		}
		// A tokenizer.json gomerge cannot read matters only for text: data
		// given as token ids is still evaluated (comparing ids).
		tok, tokErr := TokenizerFor(src, &m.Config)
		for _, d := range sets {
			var res Result
			if tokErr != nil && (d.records == nil || needsTokenizer(d.records)) {
				return nil, fmt.Errorf("%s needs the tokenizer: %w", d.name, tokErr)
			}
			if d.records != nil {
				res, err = Records(ctx, m, tok, d.records, d.name, opts)
			} else {
				if tok == nil {
					return nil, fmt.Errorf("%s: the model has no tokenizer.json and a vocabulary too small for bytes: give JSONL token ids", src.Path)
				}
				var ids []int
				if ids, err = tok.Encode(d.text); err != nil {
					return nil, fmt.Errorf("%s: %w", d.name, err)
				}
				ids = append(append([]int(nil), tok.Prefix()...), ids...)
				res, err = Text(ctx, m, ids, opts)
			}
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", src.Path, d.name, err)
			}
			rows = append(rows, Row{Model: src.Path, Data: d.name, Result: res})
		}
	}
	return rows, nil
}

// needsTokenizer reports whether some record has text without token ids.
func needsTokenizer(recs []Record) bool {
	for _, r := range recs {
		if r.IDs == nil && (r.PromptIDs == nil || r.AnswerIDs == nil) {
			return true
		}
	}
	return false
}

// WriteTable prints rows as an aligned text table.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tdata\ttokens\tloss\tperplexity\taccuracy")
	for _, r := range rows {
		acc := "-"
		if r.Accuracy != nil {
			acc = fmt.Sprintf("%.1f%% (%d/%d)", 100**r.Accuracy, r.Correct, r.Generated)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.4f\t%s\t%s\n", r.Model, r.Data, r.Tokens, r.Loss, formatPPL(r.Perplexity), acc)
	}
	return tw.Flush()
}

func formatPPL(p float64) string {
	if math.IsInf(p, 0) || p >= 1e6 {
		return fmt.Sprintf("%.3g", p)
	}
	return fmt.Sprintf("%.3f", p)
}

// WriteJSON prints rows as a JSON array.
func WriteJSON(w io.Writer, rows []Row) error {
	for i := range rows {
		if math.IsInf(rows[i].Perplexity, 0) || math.IsNaN(rows[i].Perplexity) {
			rows[i].Perplexity = math.MaxFloat64
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}
