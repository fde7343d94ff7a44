package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newAnalyzeCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "analyze",
		Short: "(analyze is not supported yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("analyze is not supported yet")
		},
	}
}
