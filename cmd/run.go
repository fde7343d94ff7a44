package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newRunCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "(run is not supported yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("run is not supported yet")
		},
	}
}
