package cmd

import (
	"errors"

	"github.com/spf13/cobra"
)

func newLayerswapCmd(g *Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "layerswap",
		Short: "(layerswap is not supported yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("layerswap is not supported yet")
		},
	}
}
