// Command gomerge merges large-language-model checkpoints stored as
// safetensors. See README.md and `gomerge --help`.
package main

import (
	"os"

	"github.com/gomerge/gomerge/cmd"
)

func main() {
	os.Exit(cmd.Main(os.Args[1:]))
}
