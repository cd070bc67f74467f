package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/farmer"
)

// IDOptions are the flags of "shardfarmer id".
type IDOptions struct {
	Dir       string
	Advertise string
}

// AddFlags registers the options on cmd.
func (o *IDOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", defaultDir(), "data directory of the farmer")
	fs.StringVar(&o.Advertise, "advertise", "", "host:port clients dial; given, print the full address")
}

func newIDCommand(g *globals) *cobra.Command {
	opts := &IDOptions{}
	cmd := &cobra.Command{
		Use:   "id",
		Short: "Print the farmer's node ID (or address, with --advertise)",
		Long: `Id prints the node ID of the farmer whose data directory is --dir, or with
--advertise HOST:PORT its full address NODEID@HOST:PORT, the form clients
are configured with. It reads the identity only: it works while the farmer
runs, and fails (exit 3) if "shardfarmer run" never created one.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runID(opts, g)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

func runID(opts *IDOptions, g *globals) error {
	if opts.Advertise != "" {
		if err := format.CheckHostPort(opts.Advertise); err != nil {
			return fmt.Errorf("%w: --advertise %q: %w", errUsage, opts.Advertise, err)
		}
	}
	id, err := farmer.ReadIdentity(opts.Dir)
	if err != nil {
		return err
	}
	if opts.Advertise == "" {
		fmt.Fprintln(g.stdout, id)
		return nil
	}
	fmt.Fprintln(g.stdout, format.Address{ID: id, Host: opts.Advertise})
	return nil
}
