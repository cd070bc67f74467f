package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
	width := 0 // no terminal: no bars
	if f, ok := w.(*os.File); ok && canRedraw(f, os.Getenv) {
		width = cmp.Or(termWidth(f), defaultTermWidth)
	}
	printStatus(w, st, width)
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

// printStatus prints st for people. On a terminal width columns wide
// (width > 0) bars show each transfer's progress and the cache's use of
// its limit; with width 0 the same is said in plain text.
func printStatus(w io.Writer, st service.Status, width int) {
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
	printTransfers(w, st.Transfers, width)
	c := st.Cache
	limit := "no limit"
	if c.MaxBytes > 0 {
		limit = "limit " + humanize.IBytes(uint64(c.MaxBytes))
	}
	fmt.Fprintf(w, "cache:    %s in %d blocks, %s on disk (%s) in %s\n", humanize.IBytes(uint64(c.Bytes)), c.Blocks,
		humanize.IBytes(uint64(c.DiskBytes)), limit, c.Dir)
	if width > 0 && c.MaxBytes > 0 {
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

// statusIndent lines up the lines that belong to the one above.
const statusIndent = "          "

// printTransfers prints one line per file being uploaded: path, bar,
// percentage and bytes on a terminal (width > 0), the bars lined up;
// path, bytes and percentage in words otherwise.
func printTransfers(w io.Writer, trs []service.TransferStatus, width int) {
	if width <= 0 {
		for _, t := range trs {
			fmt.Fprintf(w, "%s%s: %s of %s uploaded (%d%%)\n", statusIndent, printable(t.Path),
				ibytes(t.DoneBytes), ibytes(t.TotalBytes), percent(t.DoneBytes, t.TotalBytes))
		}
		return
	}
	tails := make([]string, len(trs))
	labelW, tailW := 0, 0
	for i, t := range trs {
		tails[i] = fmt.Sprintf("%3d%%  %8s / %s", percent(t.DoneBytes, t.TotalBytes), ibytes(t.DoneBytes), ibytes(t.TotalBytes))
		labelW = max(labelW, len([]rune(printable(t.Path))))
		tailW = max(tailW, len(tails[i]))
	}
	avail := width - 1 - len(statusIndent) // the last column would wrap on some terminals
	fixed := tailW + 4                     // " [" and "] "
	barW := min(30, avail-labelW-fixed)
	if barW < minBarWidth {
		barW = minBarWidth
		labelW = max(1, avail-fixed-barW)
	}
	for i, t := range trs {
		done, total := t.DoneBytes, t.TotalBytes
		if total <= 0 {
			done, total = 1, 1 // nothing to store: full
		}
		line := fmt.Sprintf("%s%-*s [%s] %s", statusIndent, labelW, truncateStart(printable(t.Path), labelW),
			bar(done, total, barW), tails[i])
		fmt.Fprintln(w, truncate(strings.TrimRight(line, " "), width-1))
	}
}

// percent is done of total in whole percent; an empty total is done.
func percent(done, total int64) int64 {
	if total <= 0 {
		return 100
	}
	return max(0, min(100, done*100/total))
}

// truncateStart cuts s to n columns from the start, keeping the end of a
// path (the file's name) and marking the cut with an ellipsis.
func truncateStart(s string, n int) string {
	r := []rune(s)
	switch {
	case len(r) <= n:
		return s
	case n <= 0:
		return ""
	}
	return "…" + string(r[len(r)-n+1:])
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12] + "…"
	}
	return id
}

func oneLineString(s string) string { return oneLine(errors.New(s)) }
