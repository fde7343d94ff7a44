package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/layerswap"
	"github.com/gomerge/gomerge/merge"
)

// layerswapFlags are the flags of gomerge layerswap.
type layerswapFlags struct {
	outputFlags
	Task, Lang, Base string
	Bottom, Top      int
	TransBottom      int
	TransTop         int
	Blend            float64
	NonLayer         string
	DryRun           bool
}

func newLayerswapCmd(g *Globals) *cobra.Command {
	var f layerswapFlags
	c := &cobra.Command{
		Use:   "layerswap --task TASK --lang LANG --bottom B --top U [--transition-bottom TB] [--transition-top TU] [--blend W] -o OUT",
		Short: "Layer swapping: outer layers from a language expert, middle layers from a task expert",
		Long: `Layer swapping (Bandarkar et al., ICLR 2025) composes two experts fine-tuned
from the same base. For a model of L layers, layer l comes from

  l < B                      the language expert (--lang)
  l < B + TB                 W·task + (1 − W)·lang     (lower transition)
  l < L − U − TU             the task expert (--task)
  l < L − U                  W·task + (1 − W)·lang     (upper transition)
  otherwise                  the language expert

Embeddings, the final norm and lm_head come from the language expert
(--nonlayer lang), the task expert (task) or are blended with W (blend).
Whole layers are copied byte for byte; only transition layers are computed.
L comes from config.json (num_hidden_layers) or the tensor names; --base is
optional and only checked (same layer count and shapes). gomerge analyze
suggests B and U.

Example (the paper's 32-layer setting, an unverified secondary suggestion):

  gomerge layerswap --task math/ --lang swahili/ --bottom 5 --top 2 \
      --transition-bottom 1 --transition-top 1 -o merged/

The recipe method is layer_swap (models identified by the per-model
parameter role: task or lang; without roles, the first is the task expert).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runLayerswap(c, g, &f)
		},
	}
	f.outputFlags.register(c)
	fl := c.Flags()
	fl.StringVar(&f.Task, "task", "", "task expert θ_T: the middle layers (required)")
	fl.StringVar(&f.Lang, "lang", "", "language expert θ_L: the bottom and top layers (required)")
	fl.StringVar(&f.Base, "base", "", "base model the experts were fine-tuned from (optional; only checked)")
	fl.IntVar(&f.Bottom, "bottom", 0, "B: bottom layers taken from the language expert")
	fl.IntVar(&f.Top, "top", 0, "U: top layers taken from the language expert")
	fl.IntVar(&f.TransBottom, "transition-bottom", 0, "TB: blended layers after the bottom block")
	fl.IntVar(&f.TransTop, "transition-top", 0, "TU: blended layers before the top block")
	fl.Float64Var(&f.Blend, "blend", 0.5, "W: the task expert's weight in transition layers (the language expert gets 1 − W)")
	fl.StringVar(&f.NonLayer, "nonlayer", layerswap.NonLayerLang, "source of embeddings, final norm and lm_head: lang, task or blend")
	fl.BoolVar(&f.DryRun, "dry-run", false, "print the layer assignment and the plan, and exit")
	c.MarkFlagRequired("task")
	c.MarkFlagRequired("lang")
	c.MarkFlagRequired("bottom")
	c.MarkFlagRequired("top")
	for _, n := range []string{"task", "lang", "base"} {
		c.RegisterFlagCompletionFunc(n, completeModels)
	}
	c.Flags().Lookup("copy-from").Usage = "model whose config.json and tokenizer files a directory output gets (default: the language expert, or the task expert with --nonlayer task)"
	c.Flags().Lookup("dtype").Usage = "output dtype: bf16, f16, f32 or f64 (default: each copied tensor's own, the task expert's for blended ones)"
	// -o is not needed for --dry-run; runLayerswap checks it.
	delete(c.Flags().Lookup("output").Annotations, cobra.BashCompOneRequiredFlag)
	return c
}

func runLayerswap(c *cobra.Command, g *Globals, f *layerswapFlags) error {
	ctx := c.Context()
	cfg := layerswap.Config{Bottom: f.Bottom, Top: f.Top, TransBottom: f.TransBottom, TransTop: f.TransTop,
		Blend: f.Blend, NonLayer: f.NonLayer}
	if err := cfg.ValidateShape(); err != nil {
		return err
	}
	outDT, err := f.dtype()
	if err != nil {
		if !strings.Contains(err.Error(), "--dtype") {
			err = fmt.Errorf("--dtype: %w", err)
		}
		return err
	}
	if !f.DryRun && f.Out == "" {
		return fmt.Errorf("-o/--output is required")
	}
	paths := []string{f.Task, f.Lang}
	if f.Base != "" {
		paths = append(paths, f.Base)
	}
	wopts, err := f.writeOptions(g, paths)
	if err != nil {
		return err
	}
	models, closeAll, err := openModels(ctx, g, paths)
	if err != nil {
		return err
	}
	defer closeAll()
	ex := layerswap.Experts{Task: models[0], Lang: models[1]}
	if f.Base != "" {
		ex.Base = models[2]
	}
	plan, cfg, err := layerswap.Plan(ex, cfg, layerswap.PlanOptions{OutDType: outDT})
	if err != nil {
		return err
	}
	if f.DryRun {
		fmt.Fprintf(g.Stdout, "layer swap of %d layers (task %s, lang %s):\n", cfg.Layers, f.Task, f.Lang)
		layerswap.Describe(g.Stdout, cfg)
		fmt.Fprintln(g.Stdout)
		merge.PrintPlan(g.Stdout, plan, g.Threads)
		return nil
	}
	copyFrom := ex.Lang
	if cfg.NonLayer == layerswap.NonLayerTask {
		copyFrom = ex.Task
	}
	if f.CopyFrom != "" {
		m, err := formats.Open(f.CopyFrom)
		if err != nil {
			return err
		}
		defer m.Close()
		copyFrom = m
	}
	prog, finish := progress(g, totalBytes(plan), "layerswap")
	defer finish()
	return merge.Write(ctx, plan, merge.Output{Path: f.Out, Write: wopts, CopyFrom: copyFrom},
		merge.ExecOptions{Threads: g.Threads, Progress: prog})
}
