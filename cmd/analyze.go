package cmd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomerge/gomerge/analyze"
)

// analyzeFlags are the flags of gomerge analyze.
type analyzeFlags struct {
	Base    string
	JSON    bool
	Plot    string
	ZeroTol float64
	Lang    int
}

func newAnalyzeCmd(g *Globals) *cobra.Command {
	var f analyzeFlags
	c := &cobra.Command{
		Use:   "analyze --base BASE EXPERT... [--json] [--plot FILE.svg|FILE.png]",
		Short: "Show where experts changed their base, per layer and module; suggest a layer swap",
		Long: `analyze reads the base and the experts once, tensor by tensor, and reports
for every expert, per transformer layer and per module type (q, k, v, o,
gate, up, down, norm, embed, lm_head):

  mean|Δ|      mean absolute change Σ|θ_e − θ₀|/n
  ‖Δ‖/‖θ₀‖     relative change (Frobenius norms)
  near-0       fraction of elements with |Δ| < tol·rms(θ₀) (--zero-tol,
               default 1e-3; rms over blocks of 16384 base values, the whole
               tensor when smaller; exact zeros always count; bf16 weights
               move by at least one bf16 step, ≥ 2⁻⁸·|θ|, so for them this
               is mostly the fraction of exactly unchanged weights)

and between every two experts the cosine similarity of their task vectors
per layer and the sign-conflict rate (the fraction of elements changed by
both whose changes have opposite signs).

For two experts it applies the layer-swapping rule: each expert's per-layer
mean |Δ| is normalised to sum 1 (Ā), π_l = Ā_lang/(Ā_lang + Ā_task), and b
and u are the longest prefix and suffix of layers with π > ½. The experts
are taken in the order task, language (as gomerge layerswap --task --lang);
--lang 1 says the first is the language expert. The suggested gomerge
layerswap command is printed.

--json prints the report as JSON (stable field names, NaN as null) instead
of tables; --plot draws heat maps (layers × modules, one per expert) and the
per-layer curves to an SVG or PNG file.`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeModels,
		RunE: func(c *cobra.Command, args []string) error {
			return runAnalyze(c, g, &f, args)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.Base, "base", "", "base model the experts were fine-tuned from (required)")
	fl.BoolVar(&f.JSON, "json", false, "print the report as JSON")
	fl.StringVar(&f.Plot, "plot", "", "also draw the heat maps and per-layer curves to FILE.svg or FILE.png")
	fl.Float64Var(&f.ZeroTol, "zero-tol", analyze.DefaultZeroTol, "near-zero tolerance: |Δ| < tol·rms(θ₀) counts as unchanged (0: exact zeros only)")
	fl.IntVar(&f.Lang, "lang", 2, "which of two experts is the language expert for the layer-swap suggestion: 1 or 2")
	c.MarkFlagRequired("base")
	c.RegisterFlagCompletionFunc("base", completeModels)
	return c
}

func runAnalyze(c *cobra.Command, g *Globals, f *analyzeFlags, args []string) error {
	ctx := c.Context()
	var plotFormat string
	if f.Plot != "" {
		plotFormat = strings.TrimPrefix(strings.ToLower(filepath.Ext(f.Plot)), ".")
		if plotFormat != "svg" && plotFormat != "png" {
			return fmt.Errorf("--plot %s: the file name must end in .svg or .png", f.Plot)
		}
	}
	if f.ZeroTol < 0 {
		return fmt.Errorf("--zero-tol %g: must be ≥ 0", f.ZeroTol)
	}
	opts := analyze.Options{Threads: g.Threads, ZeroTol: f.ZeroTol, Warn: warnWriter(g)}
	if c.Flags().Changed("lang") {
		if len(args) != 2 || (f.Lang != 1 && f.Lang != 2) {
			return fmt.Errorf("--lang %d: the language expert is 1 or 2 of exactly two experts (got %d experts)", f.Lang, len(args))
		}
		opts.LangExpert = f.Lang
	}
	models, closeAll, err := openModels(ctx, g, append([]string{f.Base}, args...))
	if err != nil {
		return err
	}
	defer closeAll()
	var total int64
	for _, m := range models {
		for _, n := range m.Names() {
			t, _ := m.Tensor(n)
			total += t.Size
		}
	}
	prog, finish := progress(g, total, "analyze")
	opts.Progress = prog
	rep, err := analyze.Run(ctx, models[0], models[1:], opts)
	finish()
	if err != nil {
		return err
	}
	if f.Plot != "" {
		var buf bytes.Buffer
		if err := rep.Plot(&buf, plotFormat); err != nil {
			return fmt.Errorf("--plot %s: %w", f.Plot, err)
		}
		if err := writeFileAtomic(f.Plot, buf.Bytes()); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
	}
	if f.JSON {
		return rep.WriteJSON(g.Stdout)
	}
	rep.WriteText(g.Stdout)
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, 0o644)
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}
