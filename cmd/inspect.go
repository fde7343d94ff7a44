package cmd

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/gomerge/gomerge/formats"
)

func newInspectCmd(g *Globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "List a checkpoint's tensors, totals per dtype, shards and metadata",
		Long: `inspect reads a checkpoint's headers (no tensor data) and prints every tensor
(name, dtype, shape, elements, bytes), the totals (tensors, parameters and
bytes per dtype), the shard files and the __metadata__.

MODEL is a .safetensors file, a Hugging Face model directory or "-" for
standard input. --json prints the same as one JSON object whose field names
are stable for scripts:

  {"path", "tensors": [{"name","dtype","shape","elements","bytes","shard"}],
   "totals": {"tensors","parameters","bytes","by_dtype": {DTYPE: {...}}},
   "shards": [{"file","tensors","bytes"}], "metadata": {...}}`,
		Example: `  gomerge inspect model/
  gomerge inspect --json model.safetensors | jq .totals.parameters`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeModels,
		RunE: func(c *cobra.Command, args []string) error {
			ms, closeAll, err := openModels(c.Context(), g, args)
			if err != nil {
				return err
			}
			defer closeAll()
			s := formats.Summarize(ms[0])
			if asJSON {
				enc := json.NewEncoder(g.Stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(s)
			}
			return s.WriteText(g.Stdout)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON (stable field names) instead of tables")
	return c
}
