package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service"
)

func newUnmountCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unmount [DIR]",
		Short: "Unmount the drive and stop its daemon (it uploads what it can first)",
		Long: "Ask the daemon of this home to unmount and stop; it returns once the daemon has let go of the home.\n" +
			"With no daemon running, DIR is unmounted with fusermount3 -u (or fusermount, or umount):\n" +
			"for a mount whose daemon was killed.",
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUnmount(cmd.Context(), g, args)
		},
	}
}

// unmountWait bounds how long unmount waits for the daemon to let go of
// the home after it has unmounted (its last upload round is bounded too).
const unmountWait = 2 * time.Minute

func runUnmount(ctx context.Context, g *globals, args []string) error {
	h := g.home().service()
	c := service.NewClient(h.SocketPath())
	defer c.Close()
	st, err := c.Status(ctx)
	if errors.Is(err, service.ErrNoDaemon) {
		if len(args) == 0 {
			return fmt.Errorf("%w: no daemon runs for this home; name the directory to unmount", errUsage)
		}
		dir, err := service.ResolveMountDir(args[0])
		if err != nil {
			return err
		}
		if mounted, err := service.IsMountPoint(dir); err == nil && !mounted {
			return fmt.Errorf("%s is not mounted (and no shardrive daemon runs for this home)", dir)
		}
		if err := service.ForceUnmount(dir, false); err != nil {
			return fmt.Errorf("no shardrive daemon runs for this home, and %w", err)
		}
		fmt.Printf("unmounted %s\n", dir)
		return nil
	}
	if err != nil {
		return err
	}
	if st.Daemon == nil {
		return fmt.Errorf("%w: the daemon sent no mount", service.ErrProtocol)
	}
	if len(args) == 1 {
		want, err := service.ResolveMountDir(args[0])
		if err != nil {
			return err
		}
		if want != st.Daemon.MountDir {
			return fmt.Errorf("%w: the daemon of this home mounts %s, not %s", errUsage, st.Daemon.MountDir, want)
		}
	}
	rep, err := c.Unmount(ctx)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeoutCause(ctx, unmountWait, service.ErrTimeout)
	defer cancel()
	if err := service.WaitFree(wctx, h); err != nil {
		return fmt.Errorf("unmounted %s, but the daemon (pid %d) still holds the home: %w", rep.MountDir, st.Daemon.PID, err)
	}
	fmt.Printf("unmounted %s\n", rep.MountDir)
	if rep.QueuedFiles > 0 {
		fmt.Printf("%d files are not uploaded yet: they upload at the next mount (or run `shardrive sync --wait`)\n", rep.QueuedFiles)
	}
	return nil
}
