package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/service"
)

// The farmers, verify and repair commands ask the running daemon, or work
// on the home directly when none runs (as sync does).

func newFarmersCommand(g *globals) *cobra.Command {
	var asJSON, settle bool
	cmd := &cobra.Command{
		Use:   "farmers [add ADDR | remove ADDR] [--json] [--settle]",
		Short: "List the drive's farmers with their audits, reputation and state; add or remove one",
		Long: "List every farmer: address, latency, audits passed and failed, uptime, shards held, reputation,\n" +
			"state (active, suspended, disqualified, removing, removed) and what the drive believes it owes it.\n" +
			"`farmers add ADDR` adds a farmer (it must answer as the node its address names); `farmers remove\n" +
			"ADDR` stops new shards going to it and moves its shards to the others first; it is removed once\n" +
			"it holds none (`repair --wait` does that now). --settle asks each farmer for its own accounting\n" +
			"of this drive and prints it beside the drive's, so payments can be settled from either side.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFarmers(cmd.Context(), g, asJSON, settle)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (stable, for scripts)")
	cmd.Flags().BoolVar(&settle, "settle", false, "ask each farmer for its accounting and print it beside the drive's")
	cmd.AddCommand(&cobra.Command{
		Use:   "add ADDR",
		Short: "Add a farmer (nodeid@host:port) to the drive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFarmerChange(cmd.Context(), g, args[0], true)
		},
	}, &cobra.Command{
		Use:   "remove ADDR|NODEID",
		Short: "Drain a farmer: move its shards to others, then drop it",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFarmerChange(cmd.Context(), g, args[0], false)
		},
	})
	return cmd
}

func runFarmers(ctx context.Context, g *globals, asJSON, settle bool) error {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	list, local := c.Farmers, (*service.Session).Farmers
	if settle {
		list, local = c.Settle, (*service.Session).Settle
	}
	rep, err := list(ctx)
	if errors.Is(err, service.ErrNoDaemon) {
		s, serr := openSession(ctx, g, readOnly)
		if serr != nil {
			return serr
		}
		defer s.Close(context.WithoutCancel(ctx))
		rep, err = local(s.Session, ctx)
	}
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(os.Stdout, rep)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "FARMER\tSTATE\tUP\tLATENCY\tAUDITS OK/FAILED\tUPTIME\tSHARDS\tHELD\tREPUTATION\tOWED (GB-h, GB in, GB out)")
	for _, f := range rep.Farmers {
		up := "yes"
		if !f.Up {
			up = "no"
			if f.DownSince != nil {
				up = "no, " + time.Since(*f.DownSince).Round(time.Second).String()
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.1f ms\t%d/%d\t%.0f%%\t%d\t%s\t%.2f\t%.3f, %.3f, %.3f\n",
			f.Address, f.State, up, f.LatencyMS, f.AuditsPassed, f.AuditsFailed, f.Uptime*100, f.ShardsHeld,
			humanize.IBytes(uint64(f.BytesHeld)), f.Reputation, f.Owed.ByteHours/1e9, float64(f.Owed.Ingress)/1e9, float64(f.Owed.Egress)/1e9)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, f := range rep.Farmers {
		if f.Reason != "" && f.State != "active" {
			fmt.Printf("%s: %s (%s)\n", f.Address, f.State, f.Reason)
		}
	}
	if settle {
		printSettle(rep)
	}
	return nil
}

// printSettle prints each farmer's accounting beside the drive's.
func printSettle(rep service.FarmersReply) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nFARMER\tGB-HOURS drive/farmer\tGB IN drive/farmer\tGB OUT drive/farmer\tSHARDS drive/farmer")
	for _, f := range rep.Farmers {
		if f.Claimed == nil {
			if f.ClaimError != "" {
				fmt.Fprintf(w, "%s\tno answer: %s\n", f.Address, f.ClaimError)
			}
			continue
		}
		c := f.Claimed
		fmt.Fprintf(w, "%s\t%.4f / %.4f\t%.4f / %.4f\t%.4f / %.4f\t%d / %d\n", f.Address,
			f.Owed.ByteHours/1e9, c.ByteHours/1e9, float64(f.Owed.Ingress)/1e9, float64(c.Ingress)/1e9,
			float64(f.Owed.Egress)/1e9, float64(c.Egress)/1e9, f.ShardsHeld, c.Shards)
	}
	w.Flush()
}

func runFarmerChange(ctx context.Context, g *globals, arg string, add bool) error {
	if add {
		if _, err := format.ParseAddress(arg); err != nil {
			return fmt.Errorf("%w: %w", errUsage, err)
		}
	}
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	call := c.RemoveFarmer
	if add {
		call = c.AddFarmer
	}
	err := call(ctx, arg)
	if errors.Is(err, service.ErrNoDaemon) {
		err = farmerChangeDirect(ctx, g, arg, add)
	}
	if err != nil {
		return err
	}
	if add {
		fmt.Printf("farmer added: %s\n", arg)
	} else {
		fmt.Printf("farmer removing: %s gets no new shards; its shards move to the others (repair --wait does it now)\n", arg)
	}
	return nil
}

func farmerChangeDirect(ctx context.Context, g *globals, arg string, add bool) error {
	s, err := openSession(ctx, g, readWrite)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	if add {
		a, _ := format.ParseAddress(arg)
		err = s.AddFarmer(ctx, a)
	} else {
		var id format.NodeID
		if a, perr := format.ParseAddress(arg); perr == nil {
			id = a.ID
		} else if id, err = format.ParseNodeID(arg); err != nil {
			return fmt.Errorf("%w: %q is neither a farmer address nor a node ID", errUsage, arg)
		}
		err = s.RemoveFarmer(ctx, id)
	}
	if err != nil {
		return err
	}
	// The farmer list is part of the metadata: back it up before leaving.
	return s.Sync(ctx, 0)
}

func newVerifyCommand(g *globals) *cobra.Command {
	var full, asJSON bool
	cmd := &cobra.Command{
		Use:   "verify [--full] [--json]",
		Short: "Audit the farmers now and print the drive's health and estimated durability",
		Long: "Challenge every farmer to prove it holds a random piece of a random shard (--full: fetch and\n" +
			"check every shard each farmer holds), update their reputation, and print a health report: each\n" +
			"failing farmer, the blocks below k+m healthy shards, and the drive's estimated chance of losing\n" +
			"a block per year. Exits 5 when some block has fewer than k healthy shards.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, full, asJSON)
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "check every shard, whole")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (stable, for scripts)")
	return cmd
}

func runVerify(ctx context.Context, g *globals, full, asJSON bool) error {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	rep, err := c.Verify(ctx, full)
	if errors.Is(err, service.ErrNoDaemon) {
		s, serr := openSession(ctx, g, readWrite)
		if serr != nil {
			return serr
		}
		defer s.Close(context.WithoutCancel(ctx))
		rep, err = s.Verify(ctx, full)
	}
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(os.Stdout, rep); err != nil {
			return err
		}
	} else {
		printHealth(rep)
	}
	if rep.Blocks.Lost > 0 {
		return fmt.Errorf("%w: %d blocks have fewer than k = %d healthy shards", errDamagedDrive, rep.Blocks.Lost, rep.Blocks.K)
	}
	return nil
}

var errDamagedDrive = errors.New("drive damaged")

func printHealth(rep service.VerifyReply) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "FARMER\tUP\tPASSED\tFAILED\tUNANSWERED\tLOST\tSTATE")
	var failing []string
	for _, f := range rep.Farmers {
		up := "yes"
		if !f.Up {
			up = "no"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", f.Address, up, f.Passed, f.Failed, f.Unanswered, f.Lost, f.State)
		switch {
		case f.Failed > 0 || f.Lost > 0:
			failing = append(failing, fmt.Sprintf("FAILING %s: %d audits failed, %d shards lost; %s %s", f.Address, f.Failed, f.Lost, f.State, f.Reason))
		case f.State == "suspended" || f.State == "disqualified":
			failing = append(failing, fmt.Sprintf("FAILING %s: %s (%s)", f.Address, f.State, f.Reason))
		case !f.Up && f.State != "removed":
			failing = append(failing, fmt.Sprintf("DOWN %s: %s", f.Address, f.Error))
		}
	}
	w.Flush()
	for _, l := range failing {
		fmt.Println(l)
	}
	b := rep.Blocks
	fmt.Printf("blocks: %d, coded %d+%d, repair threshold %d\n", b.Total, b.K, b.M, b.Threshold)
	var ns []int
	for n := range b.ByHealthy {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	var parts []string
	for _, n := range ns {
		parts = append(parts, fmt.Sprintf("%d with %d healthy", b.ByHealthy[n], n))
	}
	if len(parts) > 0 {
		fmt.Printf("  %s\n", strings.Join(parts, ", "))
	}
	fmt.Printf("blocks below k+m = %d: %d; below the repair threshold: %d; below k (unrecoverable): %d\n",
		b.K+b.M, b.BelowFull, b.Below, b.Lost)
	d := rep.Durability
	fmt.Printf("durability: shard loss rate %.3g/year, farmer availability %.1f%%, repair window %.0f h\n",
		d.LossRate, d.Availability*100, d.WindowHours)
	fmt.Printf("estimated chance of losing a block per year: %.3g (any block of this drive: %.3g); a block unreadable at a given moment: %.3g\n",
		d.BlockLossPerYear, d.DriveLossPerYear, d.Unreadable)
}

func newRepairCommand(g *globals) *cobra.Command {
	var wait, asJSON bool
	var threshold int
	cmd := &cobra.Command{
		Use:   "repair [--wait] [--json] [--threshold N]",
		Short: "Repair every block below the repair threshold now",
		Long: "Rebuild the shards of every block with fewer healthy shards than the repair threshold and\n" +
			"place them on other farmers. With --wait (always without a daemon), return when done: exit 0\n" +
			"when nothing is left below the threshold, 4 when too few farmers were available for some.\n" +
			"--threshold N first sets the drive's repair threshold (k < N <= k+m; without a daemon only).",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if threshold != 0 {
				if err := setRepairThreshold(cmd.Context(), g, threshold); err != nil {
					return err
				}
			}
			return runRepair(cmd.Context(), g, wait, asJSON)
		},
	}
	cmd.Flags().IntVar(&threshold, "threshold", 0, "set the drive's repair threshold first (stored in the drive, backed up)")
	cmd.Flags().BoolVar(&wait, "wait", false, "return once the repair is done")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (stable, for scripts)")
	return cmd
}

func runRepair(ctx context.Context, g *globals, wait, asJSON bool) error {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	rep, err := c.Repair(ctx, wait)
	if errors.Is(err, service.ErrNoDaemon) {
		s, serr := openSession(ctx, g, readWrite)
		if serr != nil {
			return serr
		}
		defer s.Close(context.WithoutCancel(ctx))
		rep, err = s.Repair(ctx)
		wait = true
	}
	if err != nil {
		return err
	}
	if asJSON {
		if err := printJSON(os.Stdout, rep); err != nil {
			return err
		}
	} else if !wait {
		fmt.Println("repair started")
	} else {
		fmt.Printf("repaired %d blocks: %d shards placed (%s moved); %d blocks still below the threshold\n",
			rep.Blocks, rep.Shards, humanize.IBytes(uint64(rep.Bytes)), rep.Remaining)
	}
	if wait && rep.Remaining > 0 {
		return fmt.Errorf("%w: %d blocks are still below the repair threshold", errRepairIncomplete, rep.Remaining)
	}
	return nil
}

var errRepairIncomplete = errors.New("repair incomplete")

// setRepairThreshold stores the drive's repair threshold. It needs the home
// to itself: the daemon reads the threshold at each repair pass, but
// changes to drive settings go through one writer.
func setRepairThreshold(ctx context.Context, g *globals, n int) error {
	s, err := openSession(ctx, g, readWrite)
	if errors.Is(err, service.ErrBusy) {
		return fmt.Errorf("%w: stop the daemon (shardrive unmount) to change the repair threshold", err)
	}
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	if err := s.DB.Update(ctx, func(tx *cache.Tx) error { return tx.SetRepairThreshold(n) }); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	fmt.Printf("repair threshold: %d healthy shards\n", n)
	return nil
}
