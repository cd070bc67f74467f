package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/adrg/xdg"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/core/promtext"
	"github.com/shardrive/shardrive/farmer"
)

// shutdownTimeout bounds how long a signal-triggered shutdown lets requests
// in flight finish before cutting their connections.
const shutdownTimeout = 30 * time.Second

// RunOptions are the flags of "shardfarmer run".
type RunOptions struct {
	Dir          string
	Listen       string
	Advertise    string
	Capacity     string
	AccountQuota string
	MaxShardSize string
	// Region is the free-text location label served in Info.
	Region     string
	CPUProfile string
	// Metrics is the loopback host:port of the Prometheus metrics
	// listener; empty: none.
	Metrics string
	// Check: read and check the settings, then exit without serving.
	Check bool
}

func defaultDir() string { return filepath.Join(xdg.DataHome, "shardfarmer") }

// AddFlags registers the options on fs.
func (o *RunOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", defaultDir(), "data directory: identity, index and shards (created 0700)")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:7001", "host:port to listen on (port 0: any free port)")
	fs.StringVar(&o.Advertise, "advertise", "", "host:port clients should dial, if not the listen address")
	fs.StringVar(&o.Capacity, "capacity", "10GiB", "most shard bytes to store, all accounts together (e.g. 500MiB, 20GiB)")
	fs.StringVar(&o.AccountQuota, "account-quota", "0", "most shard bytes one account may store; 0: only --capacity limits")
	fs.StringVar(&o.MaxShardSize, "max-shard-size", "64MiB", "largest shard accepted (at most 64MiB)")
	fs.StringVar(&o.Region, "region", "", `where the farmer is, e.g. "eu-west" (at most 64 printable bytes); clients keep a block's shards apart by region`)
	fs.StringVar(&o.Metrics, "metrics", "", "serve Prometheus metrics on this loopback host:port (default: off)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file")
	fs.MarkHidden("cpuprofile")
	fs.BoolVar(&o.Check, "check", false, "check the settings (flags and DIR/config), print them and exit without serving")
}

func newRunCommand(g *globals, stop func()) *cobra.Command {
	opts := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Serve shards until SIGINT or SIGTERM",
		Long: `Run opens the data directory (creating it and the farmer's identity on first
start), listens, prints one line "farmer ready: NODEID@HOST:PORT" to stdout,
and serves until SIGINT or SIGTERM, then shuts down gracefully: uploads in
flight are finished, the index is closed, and the exit code is 0. A second
signal kills the process at once. Logs go to stderr.

Settings not given as flags come from DIR/config, the farmer's
configuration file, if there is one: "key = value" lines whose keys are
the flags' names (shardfarmer service install writes it).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyConfig(cmd, opts.Dir); err != nil {
				return err
			}
			return runRun(cmd.Context(), opts, g, stop)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

// parseSize parses a human size flag (humanize: "20GiB", "500MB", "1024").
func parseSize(flag, s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%w: --%s %q: want a size such as 500MiB, 20GiB or 1048576", errUsage, flag, s)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("%w: --%s %q is too large", errUsage, flag, s)
	}
	return int64(n), nil
}

// config turns the flags into a farmer.Config.
func (o *RunOptions) config() (farmer.Config, error) {
	cfg := farmer.NewConfig()
	cfg.Dir = o.Dir
	cfg.Advertise = o.Advertise
	cfg.Region = o.Region
	cfg.Software = "shardfarmer " + version
	var err error
	if cfg.Capacity, err = parseSize("capacity", o.Capacity); err != nil {
		return cfg, err
	}
	if cfg.AccountQuota, err = parseSize("account-quota", o.AccountQuota); err != nil {
		return cfg, err
	}
	if cfg.MaxShardSize, err = parseSize("max-shard-size", o.MaxShardSize); err != nil {
		return cfg, err
	}
	if o.Metrics != "" {
		if err := promtext.CheckLoopback(o.Metrics); err != nil {
			return cfg, fmt.Errorf("%w: --metrics: %w", errUsage, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("%w: %w", errUsage, err)
	}
	return cfg, nil
}

func runRun(ctx context.Context, opts *RunOptions, g *globals, stop func()) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	cfg, err := opts.config()
	if err != nil {
		return err
	}
	if opts.Dir == "" {
		return fmt.Errorf("%w: --dir is empty", errUsage)
	}
	if opts.Check {
		if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
			return fmt.Errorf("%w: listen %q: %w", errUsage, opts.Listen, err)
		}
		fmt.Fprintf(g.stdout, "settings ok: listen %s, advertise %q, capacity %s, account quota %s, max shard %s, region %q\n",
			opts.Listen, cfg.Advertise, humanize.IBytes(uint64(cfg.Capacity)), humanize.IBytes(uint64(cfg.AccountQuota)),
			humanize.IBytes(uint64(cfg.MaxShardSize)), cfg.Region)
		return nil
	}
	f, err := farmer.New(cfg, log)
	if err != nil {
		return err
	}
	if opts.CPUProfile != "" {
		pf, err := os.Create(opts.CPUProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		_ = f.Shutdown(context.Background())
		return fmt.Errorf("%w: %w", errListen, err)
	}
	if opts.Metrics != "" {
		mln, err := net.Listen("tcp", opts.Metrics)
		if err != nil {
			ln.Close()
			_ = f.Shutdown(context.Background())
			return fmt.Errorf("%w: metrics: %w", errListen, err)
		}
		log.Info("serving metrics", "addr", mln.Addr().String())
		go func() {
			if err := f.ServeMetrics(mln); err != nil {
				log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	served := make(chan error, 1)
	go func() { served <- f.Serve(ln) }()
	host := ln.Addr().String()
	if cfg.Advertise != "" {
		host = cfg.Advertise
	} else if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		log.Warn("listening on all interfaces without --advertise: the printed address is not routable; "+
			"clients need --advertise HOST:PORT", "listen", host)
	}
	addr := f.ID().String() + "@" + host
	log.Info("farmer listening", "address", addr, "dir", cfg.Dir, "capacity", humanize.IBytes(uint64(cfg.Capacity)), "region", cfg.Region)
	fmt.Fprintf(g.stdout, "farmer ready: %s\n", addr)

	select {
	case err := <-served:
		// Serve ended without a shutdown request: a listener failure.
		_ = f.Shutdown(context.Background())
		if err == nil {
			err = errors.New("server stopped unexpectedly")
		}
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := f.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; err != nil {
		return err
	}
	log.Info("farmer stopped")
	return nil
}
