package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/farmer"
)

// StatsOptions are the flags of "shardfarmer stats".
type StatsOptions struct {
	Dir  string
	JSON bool
}

// AddFlags registers the options on cmd.
func (o *StatsOptions) AddFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&o.Dir, "dir", defaultDir(), "data directory of the farmer")
	fs.BoolVar(&o.JSON, "json", false, "print JSON (docs/format/farmer.md, \"shardfarmer stats --json\") instead of a table")
}

func newStatsCommand(g *globals) *cobra.Command {
	opts := &StatsOptions{}
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Print per-account accounting: shards, stored bytes, byte-hours, ingress, egress",
		Long: `Stats prints, for every account that stored something on the farmer whose
data directory is --dir, its shards, the bytes it stores, the byte-hours it
has stored, the shard bytes it uploaded (ingress) and was served (egress),
and when it was first seen; then the totals. These are the farmer's records
for settling payments.

It reads the index without changing anything and works whether or not the
farmer runs. While it runs, byte-hours are accrued up to now; a stopped
farmer accrues nothing, so they stand where it stopped. A running farmer
writes egress to its index once a minute: the last minute's shows after
that (GET /v1/info includes it). --json prints a stable, versioned form.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStats(cmd, opts, g)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

func runStats(cmd *cobra.Command, opts *StatsOptions, g *globals) error {
	// Whole seconds: the index accrues by the second.
	now := time.Now().UTC().Truncate(time.Second)
	st, err := farmer.ReadStats(cmd.Context(), opts.Dir, now)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeStatsJSON(g.stdout, st)
	}
	return writeStatsTable(g.stdout, st)
}

// statsVersion is the version of the JSON form; fields are only ever
// added within a version.
const statsVersion = 1

// statsJSON is the output of "stats --json" (docs/format/farmer.md).
type statsJSON struct {
	Version  int                `json:"version"`
	NodeID   format.NodeID      `json:"node_id"`
	At       time.Time          `json:"at"`
	Running  bool               `json:"running"`
	Accounts []accountStatsJSON `json:"accounts"`
	Total    totalStatsJSON     `json:"total"`
}

type accountStatsJSON struct {
	Account   format.AccountID `json:"account"`
	Shards    int64            `json:"shards"`
	Stored    int64            `json:"stored_bytes"`
	ByteHours float64          `json:"byte_hours"`
	Ingress   int64            `json:"ingress_bytes"`
	Egress    int64            `json:"egress_bytes"`
	FirstSeen time.Time        `json:"first_seen"`
}

type totalStatsJSON struct {
	Accounts  int     `json:"accounts"`
	Shards    int64   `json:"shards"`
	Stored    int64   `json:"stored_bytes"`
	ByteHours float64 `json:"byte_hours"`
	Ingress   int64   `json:"ingress_bytes"`
	Egress    int64   `json:"egress_bytes"`
}

func writeStatsJSON(w io.Writer, st farmer.Stats) error {
	out := statsJSON{Version: statsVersion, NodeID: st.NodeID, At: st.At.UTC(), Running: st.Running,
		Accounts: make([]accountStatsJSON, 0, len(st.Accounts))}
	for _, a := range st.Accounts {
		out.Accounts = append(out.Accounts, accountStatsJSON{Account: a.Account, Shards: a.Shards, Stored: a.Stored,
			ByteHours: a.ByteHours, Ingress: a.Ingress, Egress: a.Egress, FirstSeen: a.FirstSeen.UTC()})
	}
	t := st.Total()
	out.Total = totalStatsJSON{Accounts: len(st.Accounts), Shards: t.Shards, Stored: t.Stored,
		ByteHours: t.ByteHours, Ingress: t.Ingress, Egress: t.Egress}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeStatsTable(w io.Writer, st farmer.Stats) error {
	state := "stopped: byte-hours stand where it stopped"
	if st.Running {
		state = "running: byte-hours accrued up to " + st.At.UTC().Format(time.DateTime) + " UTC"
	}
	fmt.Fprintf(w, "farmer %s (%s)\n", st.NodeID, state)
	if len(st.Accounts) == 0 {
		_, err := fmt.Fprintln(w, "no accounts")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "ACCOUNT\tSHARDS\tSTORED\tBYTE-HOURS\tINGRESS\tEGRESS\tFIRST SEEN (UTC)\n")
	row := func(name string, a farmer.AccountStats) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", name, a.Shards, humanize.IBytes(uint64(a.Stored)),
			byteHours(a.ByteHours), humanize.IBytes(uint64(a.Ingress)), humanize.IBytes(uint64(a.Egress)),
			a.FirstSeen.UTC().Format("2006-01-02 15:04"))
	}
	for _, a := range st.Accounts {
		row(a.Account.String(), a)
	}
	row(fmt.Sprintf("TOTAL (%d accounts)", len(st.Accounts)), st.Total())
	return tw.Flush()
}

// byteHours writes v byte-hours with a binary prefix, as humanize.IBytes
// writes bytes: "1.5 GiB-h".
func byteHours(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s-h", v, units[i])
}
