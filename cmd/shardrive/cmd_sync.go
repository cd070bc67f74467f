package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service"
)

type syncOptions struct {
	wait    bool
	timeout time.Duration
}

func newSyncCommand(g *globals) *cobra.Command {
	var o syncOptions
	cmd := &cobra.Command{
		Use:   "sync [--wait [--timeout 10m]]",
		Short: "Upload every change made so far, now",
		Long: "Upload every change made so far, without waiting for the quiet period. With --wait, return once\n" +
			"all of it is stored on the farmers (exit 0), or exit 4 if too few farmers answer, or 9 when\n" +
			"--timeout passes first; what is not stored stays queued. Without a daemon, sync always waits.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd.Context(), g, o)
		},
	}
	cmd.Flags().BoolVar(&o.wait, "wait", false, "return only once everything is stored")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "with --wait, give up after this long (exit 9); 0 waits as long as it takes")
	return cmd
}

func runSync(ctx context.Context, g *globals, o syncOptions) error {
	if o.timeout < 0 {
		return fmt.Errorf("%w: --timeout %v is negative", errUsage, o.timeout)
	}
	if o.timeout > 0 && !o.wait {
		return fmt.Errorf("%w: --timeout needs --wait", errUsage)
	}
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	var watch *queueWatch
	if st, err := c.Status(ctx); err == nil && st.Daemon != nil {
		syncKernel(g, st.Daemon.MountDir)
		if o.wait {
			watch = watchQueue(ctx, "sync", func(ctx context.Context) (int64, error) {
				st, err := c.Status(ctx)
				return st.Uploads.DirtyBytes, err
			})
		}
	}
	rep, err := c.Sync(ctx, service.SyncRequest{Wait: o.wait, TimeoutMS: o.timeout.Milliseconds()})
	watch.stop(err)
	switch {
	case err == nil && o.wait:
		fmt.Println("all changes are stored on the farmers")
		return nil
	case err == nil:
		fmt.Printf("upload started: %d files queued\n", rep.QueuedFiles)
		return nil
	case !errors.Is(err, service.ErrNoDaemon):
		return err
	}
	s, err := openSession(ctx, g, readWrite)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	watch = watchQueue(ctx, "sync", func(ctx context.Context) (int64, error) {
		st, err := s.Status(ctx, false)
		return st.Uploads.DirtyBytes, err
	})
	err = s.Sync(ctx, o.timeout)
	watch.stop(err)
	if err != nil {
		return err
	}
	fmt.Println("all changes are stored on the farmers")
	return nil
}

// syncKernel makes the kernel hand the daemon what applications wrote to
// the mount but the kernel still holds in its page cache (the mount uses
// the write-back cache), so that the sync covers every write made so far,
// closed or not. From here, not from the daemon: the daemon serves the
// writes this causes.
func syncKernel(g *globals, mountDir string) {
	if err := service.SyncFS(mountDir); err != nil {
		g.log.Info("syncfs of the mount", "err", err)
	}
}
