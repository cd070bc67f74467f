package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/installer/buildinfo"
)

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), buildinfo.Read("shardrive"))
			return err
		},
	}
}
