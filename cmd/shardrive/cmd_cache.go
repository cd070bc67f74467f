package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service"
)

func newCacheCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache",
		Short: "Manage the local block cache",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%w: cache needs a subcommand (clear)", errUsage)
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "clear",
		Short: "Drop every clean cached block; blocks not uploaded yet stay",
		Long: "Drop every block of the local cache that the farmers hold; the next reads come from the farmers.\n" +
			"Blocks not uploaded yet (dirty) stay until they are; the command says how many.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCacheClear(cmd.Context(), g)
		},
	})
	return cmd
}

func runCacheClear(ctx context.Context, g *globals) error {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	rep, err := c.ClearCache(ctx)
	if errors.Is(err, service.ErrNoDaemon) {
		s, err := openSession(ctx, g, readWrite)
		if err != nil {
			return err
		}
		defer s.Close(context.WithoutCancel(ctx))
		if rep.Dropped, rep.Kept, err = s.drive.ClearCache(ctx); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	fmt.Printf("dropped %d cached blocks; %d blocks not uploaded yet stay\n", rep.Dropped, rep.Kept)
	return nil
}
