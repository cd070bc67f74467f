package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service"
)

func newPauseCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pause",
		Short: "Stop the daemon's network traffic until resume (writes keep landing locally)",
		Long: "Stop uploads, metadata backups, shard deletions and reads from the farmers, cutting short\n" +
			"what is in flight, until `shardrive resume` or until the daemon stops. Writes keep landing in\n" +
			"the local cache and stay queued. Reading a file whose blocks are not cached fails (EIO) rather\n" +
			"than wait; a write needing room in a cache full of changes not uploaded fails (ENOSPC); sync\n" +
			"exits 4. A daemon that starts is never paused.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPause(cmd.Context(), g, true)
		},
	}
}

func newResumeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "resume",
		Short: "Restart the daemon's network traffic after pause",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPause(cmd.Context(), g, false)
		},
	}
}

func runPause(ctx context.Context, g *globals, pause bool) error {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	call, what := c.Resume, "resumed"
	if pause {
		call, what = c.Pause, "paused"
	}
	rep, err := call(ctx)
	if errors.Is(err, service.ErrNoDaemon) {
		return fmt.Errorf("%w: only a running daemon has network traffic to pause or resume", err)
	}
	if err != nil {
		return err
	}
	if !rep.Changed {
		fmt.Printf("already %s\n", what)
		return nil
	}
	if pause {
		fmt.Println("paused: nothing is uploaded, backed up or fetched until `shardrive resume`")
	} else {
		fmt.Println("resumed: uploads and backups run again")
	}
	return nil
}
