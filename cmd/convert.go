package cmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gomerge/gomerge/formats"
)

func newConvertCmd(g *Globals) *cobra.Command {
	var o outputFlags
	c := &cobra.Command{
		Use:   "convert MODEL -o OUT",
		Short: "Rewrite a checkpoint: change dtype, reshard, file ↔ directory, stdin → file",
		Long: `convert rewrites a checkpoint tensor by tensor in bounded memory.

--dtype converts every floating-point tensor (rounding to nearest even);
integer and bool tensors, and tensors already in the target dtype, are
copied byte for byte. -o takes a .safetensors file, a directory (sharded by
--shard-size, with config.json — torch_dtype updated — and the tokenizer
files of MODEL or --copy-from) or "-" for standard output. MODEL may be "-"
for standard input. The output appears only when complete.`,
		Example: `  gomerge convert model.safetensors --dtype bf16 -o model-bf16/
  gomerge convert big-model/ --shard-size 2GB -o resharded/
  cat model.safetensors | gomerge convert - -o copy.safetensors`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeModels,
		RunE: func(c *cobra.Command, args []string) error {
			dt, err := o.dtype()
			if err != nil {
				return err
			}
			wo, err := o.writeOptions(g, args)
			if err != nil {
				return err
			}
			wo.Stdout = g.Stdout
			ms, closeAll, err := openModels(c.Context(), g, args)
			if err != nil {
				return err
			}
			defer closeAll()
			from, err := openCopyFrom(o.CopyFrom)
			if err != nil {
				return err
			}
			if from != nil {
				defer from.Close()
			}
			var total int64
			for _, s := range formats.OutputSpecs(ms[0], dt) {
				total += s.Size()
			}
			bar, finish := progress(g, total, "convert")
			defer finish()
			opts := formats.ConvertOptions{DType: dt, Write: wo, Threads: g.Threads, Progress: bar, CopyFrom: from}
			return formats.Convert(c.Context(), ms[0], o.Out, opts)
		},
	}
	o.register(c)
	return c
}

// openCopyFrom opens --copy-from: a directory is used for its config and
// tokenizer files even if it holds no weights; a file must be a checkpoint.
func openCopyFrom(path string) (*formats.Model, error) {
	if path == "" {
		return nil, nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return formats.OpenConfigDir(path)
	}
	m, err := formats.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--copy-from: %w", err)
	}
	return m, nil
}
