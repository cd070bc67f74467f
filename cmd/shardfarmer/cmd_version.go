package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/installer/buildinfo"
)

// The stamped version also names the software in the farmer's info
// answer and in --version, unless main.version was set at link time.
func init() {
	if version == "dev" {
		version = buildinfo.Read("shardfarmer").Version
	}
}

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(g.stdout, buildinfo.Read("shardfarmer"))
			return err
		},
	}
}
