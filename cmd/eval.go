package cmd

import (
	"fmt"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gomerge/gomerge/evaluate"
)

type evalFlags struct {
	Data      []string
	Format    string
	MaxTokens int
	Generate  bool
	JSON      bool
	Context   int
	Stride    int
	Batch     int
}

func newEvalCmd(g *Globals) *cobra.Command {
	var f evalFlags
	c := &cobra.Command{
		Use:   "eval MODEL... --data FILE",
		Short: "Measure models on data: loss, perplexity and task accuracy",
		Long: `eval runs each model (Llama, Mistral, Qwen2 and Qwen3 architectures) on the
CPU and measures it on every --data file, printing one table: a merged model
beside its parents is the common case.

Text files (--format text) get the mean loss and perplexity of every token,
in sliding windows of the model's context (--context, default
max_position_embeddings; windows advance by --stride, default half the
context). JSONL files get, per record:
  {"prompt": "...", "answer": "..."}          loss on the answer tokens given
  {"prompt_ids": [...], "answer_ids": [...]}  the prompt (token-weighted mean);
                                              --generate adds the exact-match
                                              accuracy of greedy decoding
  {"ids": [...]}                              loss on every token after the first

Text is tokenised with the model's tokenizer.json (byte-level BPE); a model
without one uses a byte-level vocabulary (token id = byte, BOS from
config.json), as gomerge's testbed does. Answers end with the model's EOS.`,
		Example: `  gomerge eval merged/ base/ expert/ --data eval/add.jsonl --generate
  gomerge eval model/ --data wiki.txt --max-tokens 20000 --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(f.Data) == 0 {
				return fmt.Errorf("eval needs --data FILE")
			}
			if f.Format != "" && f.Format != "text" && f.Format != "jsonl" {
				return fmt.Errorf("--format %q: want text or jsonl", f.Format)
			}
			models, closeAll, err := openModels(c.Context(), g, args)
			if err != nil {
				return err
			}
			defer closeAll()
			var data []evaluate.Dataset
			for _, d := range f.Data {
				data = append(data, evaluate.Dataset{Path: d, Format: f.Format})
			}
			opts := evaluate.Options{
				Threads: g.Threads, Generate: f.Generate, MaxTokens: f.MaxTokens,
				Context: f.Context, Stride: f.Stride, BatchTokens: f.Batch,
			}
			add, done := tokenProgress(g)
			opts.Progress = add
			rows, err := evaluate.Run(c.Context(), models, data, opts)
			done()
			if err != nil {
				return err
			}
			if f.JSON {
				return evaluate.WriteJSON(g.Stdout, rows)
			}
			return evaluate.WriteTable(g.Stdout, rows)
		},
	}
	fl := c.Flags()
	fl.StringArrayVar(&f.Data, "data", nil, "evaluation file (repeatable): text, or JSONL records")
	fl.StringVar(&f.Format, "format", "", "text or jsonl (default: jsonl for .jsonl/.ndjson files, else text)")
	fl.IntVar(&f.MaxTokens, "max-tokens", 0, "score at most this many tokens per model and file (0: all)")
	fl.BoolVar(&f.Generate, "generate", false, "also decode greedily and report exact-match accuracy of prompt/answer records")
	fl.BoolVar(&f.JSON, "json", false, "print JSON instead of a table")
	fl.IntVar(&f.Context, "context", 0, "window length for text (default: the model's max_position_embeddings, at most 4096)")
	fl.IntVar(&f.Stride, "stride", 0, "step between text windows (default: half the context)")
	fl.IntVar(&f.Batch, "batch-tokens", 4096, "tokens per forward pass")
	c.MarkFlagRequired("data")
	return c
}

// tokenProgress returns a callback counting scored tokens on a spinner on
// stderr when it is a terminal and --quiet is off, and a function ending it.
// The callback receives running totals per model and file.
func tokenProgress(g *Globals) (func(int64), func()) {
	f, ok := g.Stderr.(*os.File)
	if g.Quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("scoring tokens"),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
	var last int64
	return func(n int64) {
			if n < last {
				last = 0
			}
			bar.Add64(n - last)
			last = n
		}, func() {
			bar.Finish()
		}
}
