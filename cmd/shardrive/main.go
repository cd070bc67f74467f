package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// globals are the flags every subcommand shares.
type globals struct {
	homeFlag    string
	verbose     int
	cpuProfile  string
	stopProfile func()
	log         *slog.Logger
	conf        driveConf // the configuration file (cmd_config.go)
}

// memoryLimit is the soft heap limit of the client (unless GOMEMLIMIT says
// otherwise): transfers are bounded by blocks in flight, and this keeps the
// garbage collector from letting the heap double past them.
const memoryLimit = 128 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{}
	root := newRootCommand(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if g.stopProfile != nil {
		g.stopProfile()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "shardrive: %s\n", oneLine(err))
	}
	return exitCode(err)
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "shardrive",
		Short:         "Shardrive: a zero-access encrypted drive on a network of storage farmers",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelWarn
			switch {
			case g.verbose >= 2:
				level = slog.LevelDebug
			case g.verbose == 1:
				level = slog.LevelInfo
			}
			g.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			if g.cpuProfile != "" {
				f, err := os.Create(g.cpuProfile)
				if err == nil && pprof.StartCPUProfile(f) == nil {
					g.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
				}
			}
			return g.loadConfig(cmd)
		},
	}
	root.PersistentFlags().StringVar(&g.homeFlag, "home", "", "drive home directory (default $SHARDRIVE_HOME, else the XDG directories)")
	addConfigFlag(root, g)
	root.PersistentFlags().CountVarP(&g.verbose, "verbose", "v", "log more (-v info, -vv debug) to stderr")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the command to this file")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w", errUsage, err)
	})
	root.AddCommand(
		newInitCommand(g),
		newPutCommand(g),
		newGetCommand(g),
		newLsCommand(g),
		newRmCommand(g),
		newMkdirCommand(g),
		newMountCommand(g),
		newUnmountCommand(g),
		newStatusCommand(g),
		newSyncCommand(g),
		newPinCommand(g),
		newFarmersCommand(g),
		newVerifyCommand(g),
		newRepairCommand(g),
		newUnpinCommand(g),
		newCacheCommand(g),
		newBackupCommand(g),
		newVersionCommand(g),
		newDaemonCommand(g),
		newConfigCommand(g),
		newServiceCommand(g),
		newPauseCommand(g),
		newResumeCommand(g),
		newSetupCommand(g),
	)
	return root
}

// exactArgs is cobra.ExactArgs with our usage error, so it exits 2.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%w: %s takes %d argument(s), got %d (see --help)", errUsage, cmd.Name(), n, len(args))
		}
		return nil
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return fmt.Errorf("%w: %s takes %d to %d arguments, got %d (see --help)", errUsage, cmd.Name(), lo, hi, len(args))
		}
		return nil
	}
}

// oneLine keeps the error message to one line, as the CLI promises.
func oneLine(err error) string {
	msg := err.Error()
	if errors.Is(err, errUsage) {
		msg = strings.TrimPrefix(msg, errUsage.Error()+": ")
	}
	return strings.Join(strings.Fields(msg), " ")
}
