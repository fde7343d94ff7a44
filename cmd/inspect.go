package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newInspectCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect",
		Short: "(inspect is not supported yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("inspect is not supported yet")
		},
	}
}
