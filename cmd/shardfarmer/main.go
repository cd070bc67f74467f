package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// globals are what every subcommand shares: where to write, how to log.
type globals struct {
	stdout, stderr io.Writer
	logLevel       string
	logFormat      string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the exit code. stop, called
// once ctx is done, restores default signal handling so that a second
// Ctrl-C kills the process at once.
func run(ctx context.Context, stop func(), args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := newRootCommand(g, stop)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "shardfarmer: %s\n", oneLine(err))
	}
	return exitCode(err)
}

func newRootCommand(g *globals, stop func()) *cobra.Command {
	root := &cobra.Command{
		Use:   "shardfarmer",
		Short: "Shardfarmer: a Shardrive storage node",
		Long: `Shardfarmer stores encrypted, erasure-coded shards for Shardrive clients and
serves them back over HTTPS, pinned to the node's ed25519 identity.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(g.stderr)
			_ = cmd.Help()
			return fmt.Errorf("%w: a command is required", errUsage)
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error (logs go to stderr)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w", errUsage, err)
	})
	root.AddCommand(newRunCommand(g, stop), newIDCommand(g))
	root.AddCommand(newVersionCommand(g))
	root.AddCommand(newServiceCommand(g))
	root.AddCommand(newStatsCommand(g))
	return root
}

// logger builds the slog logger the flags ask for.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", errUsage, g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch g.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	}
	return nil, fmt.Errorf("%w: --log-format %q: want text or json", errUsage, g.logFormat)
}

// noArgs is cobra.NoArgs with our usage error, so it exits 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%w: unexpected argument %q for %q (see --help)", errUsage, args[0], cmd.CommandPath())
	}
	return nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
