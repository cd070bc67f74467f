package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newMkdirCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "mkdir DRIVE-PATH",
		Short: "Make a folder and any missing parents",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openSession(cmd.Context(), g, readWrite)
			if err != nil {
				return err
			}
			defer s.Close(context.WithoutCancel(cmd.Context()))
			if _, err = s.drive.MkdirPath(cmd.Context(), args[0]); err != nil {
				return err
			}
			s.backup(cmd.Context(), g)
			return nil
		},
	}
}
