package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service"
)

type statusOptions struct {
	json bool
}

func newStatusCommand(g *globals) *cobra.Command {
	var o statusOptions
	cmd := &cobra.Command{
		Use:   "status [--json] [PATH...]",
		Short: "Show the upload queue, the local cache and the farmers, or the state of files",
		Long: "Show what waits to be uploaded, how much the local cache holds and which farmers answer.\n" +
			"Asks the home's daemon if one runs, else reads the home (probing the farmers for a few seconds).\n" +
			"With PATHs (drive paths, or local paths under the mount), show each one's state instead:\n" +
			"local (changes not on the farmers yet) or stored.\n" +
			"--json prints JSON whose fields are stable (docs/format/control.md).",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return runFileStatus(cmd.Context(), g, o, args, os.Stdout)
			}
			return runStatus(cmd.Context(), g, o, os.Stdout)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON for scripts")
	return cmd
}

func runStatus(ctx context.Context, g *globals, o statusOptions, w io.Writer) error {
	st, err := readStatus(ctx, g)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(w, st)
	}
	f, ok := w.(*os.File)
	printStatus(w, st, ok && canRedraw(f, os.Getenv))
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readStatus asks the daemon, or reads the home when none runs.
func readStatus(ctx context.Context, g *globals) (service.Status, error) {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	st, err := c.Status(ctx)
	if !errors.Is(err, service.ErrNoDaemon) {
		return st, err
	}
	s, err := openSession(ctx, g, readOnly)
	if err != nil {
		return st, err
	}
	defer s.Close(context.WithoutCancel(ctx))
	return s.Status(ctx, true)
}

// runFileStatus prints the sync state of each path: "STATE PATH" lines,
// or a JSON array of {"path", "status"}.
func runFileStatus(ctx context.Context, g *globals, o statusOptions, args []string, w io.Writer) error {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	// Through the daemon if one runs, else on the home directly.
	mountDir := ""
	fileStatus := c.FileStatus
	st, err := c.Status(ctx)
	switch {
	case err == nil:
		if st.Daemon != nil {
			mountDir = st.Daemon.MountDir
		}
	case errors.Is(err, service.ErrNoDaemon):
		s, err := openSession(ctx, g, readOnly)
		if err != nil {
			return err
		}
		defer s.Close(context.WithoutCancel(ctx))
		fileStatus = s.FileStatus
	default:
		return err
	}
	var sts []service.FileStatus
	for _, a := range args {
		p, err := drivePathOf(a, mountDir)
		if err != nil {
			return err
		}
		fs, err := fileStatus(ctx, p)
		if err != nil {
			return err
		}
		sts = append(sts, fs)
	}
	if o.json {
		return printJSON(w, sts)
	}
	for _, fs := range sts {
		fmt.Fprintf(w, "%-7s %s\n", fs.Status, fs.Path)
	}
	return nil
}

// printStatus prints st for people; with bars (a terminal) the cache's
// use of its limit is drawn too.
func printStatus(w io.Writer, st service.Status, bars bool) {
	if d := st.Daemon; d != nil {
		ro := ""
		if d.ReadOnly {
			ro = ", read-only"
		}
		if d.Paused {
			ro += ", paused: nothing uploaded or fetched until `shardrive resume`"
		}
		fmt.Fprintf(w, "mount:    %s (daemon pid %d%s, since %s)\n", d.MountDir, d.PID, ro, d.Started.Local().Format("2006-01-02 15:04:05"))
	} else {
		fmt.Fprintf(w, "mount:    none (no daemon runs for this home)\n")
	}
	u := st.Uploads
	fmt.Fprintf(w, "uploads:  %d files queued, %d blocks (%s) not stored yet, %d uploading, %d old shards to delete\n",
		u.QueuedFiles, u.DirtyBlocks, humanize.IBytes(uint64(u.DirtyBytes)), u.UploadingBlocks, u.GarbageShards)
	if u.LastError != "" {
		fmt.Fprintf(w, "          last upload error: %s\n", oneLineString(u.LastError))
	}
	c := st.Cache
	limit := "no limit"
	if c.MaxBytes > 0 {
		limit = "limit " + humanize.IBytes(uint64(c.MaxBytes))
	}
	fmt.Fprintf(w, "cache:    %s in %d blocks, %s on disk (%s) in %s\n", humanize.IBytes(uint64(c.Bytes)), c.Blocks,
		humanize.IBytes(uint64(c.DiskBytes)), limit, c.Dir)
	if bars && c.MaxBytes > 0 {
		fmt.Fprintf(w, "          %s %d%% of the limit used, %d%% not stored yet (#)\n", cacheBar(c.Bytes, u.DirtyBytes, c.MaxBytes, 30),
			min(100, c.Bytes*100/c.MaxBytes), min(100, u.DirtyBytes*100/c.MaxBytes))
	}
	up, down := 0, 0
	for _, f := range st.Farmers {
		switch f.State {
		case service.FarmerUp:
			up++
		case service.FarmerDown:
			down++
		}
	}
	fmt.Fprintf(w, "farmers:  %d up, %d down, %d not asked yet\n", up, down, len(st.Farmers)-up-down)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range st.Farmers {
		lat := "-"
		if f.LatencyMS > 0 {
			lat = fmt.Sprintf("%.1fms", f.LatencyMS)
		}
		line := fmt.Sprintf("  %s\t%s\t%s\t%s", f.State, f.Address, lat, shortID(f.ID))
		if f.LastError != "" {
			line += "\t" + oneLineString(f.LastError)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

func oneLineString(s string) string { return oneLine(errors.New(s)) }
