package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shardrive/shardrive/syncer"
)

// driveOptions are the daemon's settings: flags of mount, daemon and
// config show, and (by the same names) keys of the configuration file.
type driveOptions struct {
	mount        string
	allowOther   bool
	readOnly     bool
	cacheDir     string
	cacheMaxSize string
	writeBack    time.Duration
	backupDelay  time.Duration
	metrics      string
	// The keeper's pace: audits and repair (syncer.KeeperConfig).
	auditInterval     time.Duration
	suspendOffline    time.Duration
	disqualifyOffline time.Duration
}

// AddFlags registers the options on f. Every flag added here is a key of
// the configuration file too.
func (o *driveOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.mount, "mount", "", "folder to mount the drive on")
	f.BoolVar(&o.allowOther, "allow-other", false, "let other local users use the mount (needs user_allow_other in /etc/fuse.conf unless root)")
	f.BoolVar(&o.readOnly, "read-only", false, "mount read-only")
	f.StringVar(&o.cacheDir, "cache-dir", "", "directory of the local block cache (default: the home's, or the one used last)")
	f.StringVar(&o.cacheMaxSize, "cache-max-size", "", "local cache limit, like 20GiB (default: none); dirty and pinned blocks stay whatever the limit")
	f.DurationVar(&o.writeBack, "write-back", 3*time.Second, "upload a file once it has gone this long unchanged")
	f.DurationVar(&o.backupDelay, "backup-delay", syncer.NewBackupConfig().Delay, "store metadata changes on the farmers at most this long after they are made")
	f.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on this loopback host:port (default: off)")
	k := syncer.NewKeeperConfig()
	f.DurationVar(&o.auditInterval, "audit-interval", k.AuditInterval, "audit the farmers and repair what they lost this often")
	f.DurationVar(&o.suspendOffline, "suspend-offline", k.SuspendOffline, "give no new shards to a farmer unreachable this long")
	f.DurationVar(&o.disqualifyOffline, "disqualify-offline", k.DisqualifyOffline,
		"give up on a farmer unreachable this long and rebuild its shards elsewhere")
}

// keeperArgs are the keeper flags as a detached daemon's command line.
func (o *driveOptions) keeperArgs() []string {
	return []string{"--audit-interval", o.auditInterval.String(), "--suspend-offline", o.suspendOffline.String(),
		"--disqualify-offline", o.disqualifyOffline.String()}
}

func newDaemonCommand(g *globals) *cobra.Command {
	var o mountOptions
	cmd := &cobra.Command{
		Use:   "daemon [flags]",
		Short: "Run the drive's daemon in the foreground: what the system service runs",
		Long: "Mount the drive on the configured folder (mount = DIR in the configuration file, or --mount) and\n" +
			"upload and back up in the background until SIGTERM or SIGINT, which unmount cleanly. Logs go to\n" +
			"stderr at info level (the journal, under the service). The folder is made if missing. One daemon\n" +
			"mounts one folder: to mount a second, run `shardrive mount` with another --home.\n" +
			"`mount --daemon DIR` starts the same daemon detached from the terminal.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDaemon(cmd.Context(), g, o)
		},
	}
	o.driveOptions.AddFlags(cmd.Flags())
	return cmd
}

func runDaemon(ctx context.Context, g *globals, o mountOptions) error {
	if o.mount == "" {
		return fmt.Errorf("%w: no folder to mount: set mount = DIR in %s, or give --mount DIR", errUsage, g.conf.path)
	}
	if _, err := os.Stat(o.mount); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(o.mount, 0o700); err != nil {
			return fmt.Errorf("make the mount folder: %w", err)
		}
	}
	o.service = true
	return runMount(ctx, g, o, o.mount)
}
