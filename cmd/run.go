package cmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/recipe"
)

func newRunCmd(g *Globals) *cobra.Command {
	var (
		of           outputFlags
		seed         uint64
		dryRun       bool
		intermediate string
	)
	c := &cobra.Command{
		Use:   "run RECIPE.yaml -o OUT_DIR",
		Short: "Run a mergekit YAML recipe unchanged",
		Long: `Run a mergekit YAML recipe (mergekit-yaml / mergekit-multi format): merge_method,
base_model, models or slices with per-model and per-slice parameters, gradient lists,
{filter, value} conditions, dtype/out_dtype, tokenizer_source and chat_template.
"-" reads the recipe from standard input.

The recipe is validated completely — method, parameter names (with "did you mean"),
required parameters, model references, layer ranges, slice lengths — before any
tensor is read; errors name the YAML line. Model references are local paths or
Hugging Face ids already in the local Hugging Face cache (gomerge never downloads).

The output directory has mergekit's layout: shards and index, config.json (dtype and
layer count updated), tokenizer files, a README.md model card and mergekit_config.yml.

Multi-document recipes ("---"-separated, each with name:) run in order; later
documents may use earlier names as models. Intermediates go to --intermediate-dir and
are not recomputed when already up to date.

gomerge computes in float32 whatever the recipe's dtype; dtype (or out_dtype) sets the
output dtype. --dtype, --shard-size, --seed and -j override the recipe.

Example:
  gomerge run ties.yaml -o merged/`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(c *cobra.Command, args []string) error {
			var data []byte
			var err error
			file, dir := args[0], "."
			if file == "-" {
				data, err = io.ReadAll(g.Stdin)
				file = "<stdin>"
			} else {
				data, err = os.ReadFile(file)
				dir = filepath.Dir(file)
			}
			if err != nil {
				return fmt.Errorf("reading recipe: %w", err)
			}
			docs, err := recipe.Parse(data, file)
			if err != nil {
				return err
			}
			if !dryRun && of.Out == "" {
				return fmt.Errorf("-o/--output is required")
			}
			dt, err := of.dtype()
			if err != nil {
				return err
			}
			wopts, err := of.writeOptions(g, nil)
			if err != nil {
				return err
			}
			opts := recipe.Options{
				Env:             recipe.Env{Registry: methodRegistry(), RecipeDir: dir, DType: dt, Seed: seed, Open: formats.Open},
				Out:             of.Out,
				IntermediateDir: intermediate,
				Write:           wopts,
				Threads:         g.Threads,
				Warn:            warnWriter(g),
				Log:             warnWriter(g),
				Progress: func(total int64, what string) (func(int64), func()) {
					return progress(g, total, what)
				},
			}
			if dryRun {
				opts.DryRun = g.Stdout
			}
			return recipe.Run(c.Context(), docs, opts)
		},
	}
	of.registerOptional(c)
	c.Flags().Uint64Var(&seed, "seed", 0, "seed of the random streams (DARE, DELLA)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "validate the recipe and print the plan without writing")
	c.Flags().StringVarP(&intermediate, "intermediate-dir", "I", "", "directory for the intermediate models of a multi-document recipe")
	c.Flags().Lookup("copy-from").Hidden = true
	return c
}
