// Package cmd holds gomerge's cobra commands. Each command only parses its
// flags and arguments and calls one library function.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gomerge/gomerge/simd"
)

// Version is the program version, set at link time with -ldflags "-X".
var Version = "0.1.0-dev"

// Globals are the flags every command shares.
type Globals struct {
	Quiet   bool
	Threads int
	// CPUProfile names a file for a pprof CPU profile (hidden flag).
	CPUProfile string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
}

// Main runs gomerge with the given arguments and returns the exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// Run executes the command line with explicit streams (used by tests).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &Globals{Stdin: stdin, Stdout: stdout, Stderr: stderr}
	root := NewRoot(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "gomerge: interrupted; no output was written")
			return 130
		}
		fmt.Fprintf(stderr, "gomerge: %v\n", err)
		return 1
	}
	return 0
}

// NewRoot builds the gomerge command tree.
func NewRoot(g *Globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "gomerge",
		Short: "Merge large-language-model checkpoints (safetensors), streamed and in bounded memory",
		Long: `gomerge merges safetensors checkpoints — single files, Hugging Face model
directories (sharded or not) or standard input — with mergekit's methods and
WIDEN, PCB and layer swapping, tensor by tensor and chunk by chunk.

Model arguments are files, directories or "-" (standard input); -o takes a
.safetensors file, a directory or "-" (standard output), so merges chain:

  gomerge ta --base base a b -o - | gomerge ties --base base - c -o out/`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetVersionTemplate(fmt.Sprintf("gomerge {{.Version}} (%s, %s/%s, simd %s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, simd.Level()))
	root.PersistentFlags().BoolVarP(&g.Quiet, "quiet", "q", false, "no progress bar or warnings on stderr")
	root.PersistentFlags().IntVarP(&g.Threads, "threads", "j", runtime.NumCPU(), "worker threads (results are identical for any value)")
	root.PersistentFlags().StringVar(&g.CPUProfile, "cpuprofile", "", "write a CPU profile to this file")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.CPUProfile == "" {
			return nil
		}
		f, err := os.Create(g.CPUProfile)
		if err != nil {
			return err
		}
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRun = func(*cobra.Command, []string) {
		if g.CPUProfile != "" {
			pprof.StopCPUProfile()
		}
	}
	root.AddCommand(newVersionCmd(g))
	root.AddCommand(newInspectCmd(g), newConvertCmd(g))
	for _, spec := range methodRegistry().Methods() {
		if spec.Name == "layer_swap" {
			continue // recipes only; the command is `gomerge layerswap`
		}
		root.AddCommand(newMethodCmd(g, spec))
	}
	root.AddCommand(newRunCmd(g), newLayerswapCmd(g), newAnalyzeCmd(g), newEvalCmd(g))
	return root
}

func newVersionCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the SIMD level in use",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprintf(g.Stdout, "gomerge %s (%s, %s/%s, simd %s)\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, simd.Level())
			return nil
		},
	}
}

// completeModels completes model arguments: directories and .safetensors files.
func completeModels(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"safetensors"}, cobra.ShellCompDirectiveFilterFileExt
}
