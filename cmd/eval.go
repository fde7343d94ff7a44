package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newEvalCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "eval",
		Short: "(eval is not supported yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("eval is not supported yet")
		},
	}
}
