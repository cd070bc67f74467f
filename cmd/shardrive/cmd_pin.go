package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service"
)

func newPinCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "pin PATH...",
		Short: "Keep files or folders in the local cache (available offline)",
		Long: "Fetch every block under PATH now and never evict it. PATH is a drive path (/Photos) or a local\n" +
			"path under the mount of this home's daemon (~/Shardrive/Photos).",
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPin(cmd.Context(), g, args, true)
		},
	}
}

func newUnpinCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unpin PATH...",
		Short: "Let pinned files or folders be evicted from the local cache again",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPin(cmd.Context(), g, args, false)
		},
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return fmt.Errorf("%w: %s takes at least %d argument(s) (see --help)", errUsage, cmd.Name(), n)
		}
		return nil
	}
}

func runPin(ctx context.Context, g *globals, args []string, pin bool) error {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	// Through the daemon if one runs, else on the home directly.
	mountDir := ""
	apply := c.Unpin
	if pin {
		apply = c.Pin
	}
	st, err := c.Status(ctx)
	switch {
	case err == nil:
		if st.Daemon != nil {
			mountDir = st.Daemon.MountDir
		}
	case errors.Is(err, service.ErrNoDaemon):
		s, err := openSession(ctx, g, readWrite)
		if err != nil {
			return err
		}
		defer s.Close(context.WithoutCancel(ctx))
		apply = s.drive.Unpin
		if pin {
			apply = s.drive.Pin
		}
	default:
		return err
	}
	for _, a := range args {
		p, err := drivePathOf(a, mountDir)
		if err != nil {
			return err
		}
		if err := apply(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// drivePathOf turns a command-line path into a drive path: a path under
// mountDir (the live mount, if any) is translated; any other absolute path
// is taken as a drive path already.
func drivePathOf(arg, mountDir string) (string, error) {
	if mountDir != "" {
		if abs, err := filepath.Abs(arg); err == nil {
			if p, ok := under(abs, mountDir); ok {
				return p, nil
			}
			if r, err := filepath.EvalSymlinks(abs); err == nil {
				if p, ok := under(r, mountDir); ok {
					return p, nil
				}
			}
		}
	}
	if strings.HasPrefix(arg, "/") {
		return arg, nil
	}
	if mountDir == "" {
		return "", fmt.Errorf("%w: %q: a drive path starts with / (no mount is live to translate local paths)", errUsage, arg)
	}
	return "", fmt.Errorf("%w: %q is not under the mount %s, and a drive path starts with /", errUsage, arg, mountDir)
}

// under returns p as a drive path if it is dir or below it.
func under(p, dir string) (string, bool) {
	if p == dir {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, dir+string(filepath.Separator)); ok {
		return "/" + filepath.ToSlash(rest), true
	}
	return "", false
}
