package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newConvertCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "convert",
		Short: "(convert is not supported yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("convert is not supported yet")
		},
	}
}
