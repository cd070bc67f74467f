package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service"
	"github.com/shardrive/shardrive/syncer"
)

func newBackupCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "The metadata backup on the farmers",
	}
	var asJSON bool
	st := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show when the metadata was last stored on the farmers",
		Long: "Show the newest root record stored on the farmers (its version and time), whether changes wait\n" +
			"for the next backup, and this device's writer lease. Asks the daemon if one runs, else reads the home.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackupStatus(cmd.Context(), g, asJSON, os.Stdout)
		},
	}
	st.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts (the status JSON's backup object)")
	cmd.AddCommand(st)
	return cmd
}

func runBackupStatus(ctx context.Context, g *globals, asJSON bool, w io.Writer) error {
	b, err := readBackupStatus(ctx, g)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, b)
	}
	printBackup(w, b)
	return nil
}

// readBackupStatus asks the daemon, or reads the home when none runs
// (without probing the farmers: the backup state is local).
func readBackupStatus(ctx context.Context, g *globals) (*service.BackupStatus, error) {
	c := service.NewClient(g.home().service().SocketPath())
	defer c.Close()
	st, err := c.Status(ctx)
	if err == nil && st.Backup != nil {
		return st.Backup, nil
	}
	if err != nil && !errors.Is(err, service.ErrNoDaemon) {
		return nil, err
	}
	s, err := openSession(ctx, g, readOnly)
	if err != nil {
		return nil, err
	}
	defer s.Close(context.WithoutCancel(ctx))
	bs, err := syncer.ReadBackupStatus(ctx, s.DB, nil)
	if err != nil {
		return nil, err
	}
	return service.NewBackupStatus(bs), nil
}

func printBackup(w io.Writer, b *service.BackupStatus) {
	if b.Version == 0 {
		fmt.Fprintln(w, "metadata backup: never stored on the farmers")
	} else {
		when := "unknown time"
		if b.Time != nil {
			when = fmt.Sprintf("%s (%s)", b.Time.Local().Format(time.RFC3339), humanize.Time(*b.Time))
		}
		fmt.Fprintf(w, "metadata backup: version %d stored %s; %d objects, %s\n", b.Version, when, b.Objects, humanize.IBytes(uint64(b.Bytes)))
	}
	if b.Pending {
		fmt.Fprintln(w, "changes: waiting for the next backup")
	} else {
		fmt.Fprintln(w, "changes: all stored")
	}
	switch {
	case b.LostTo != "":
		fmt.Fprintf(w, "writer: another device (%s) took this drive over; this device no longer writes\n", b.LostTo)
	case b.LeaseUntil != nil && b.LeaseUntil.After(time.Now()):
		fmt.Fprintf(w, "writer: this device, lease until %s\n", b.LeaseUntil.Local().Format(time.RFC3339))
	default:
		fmt.Fprintln(w, "writer: no lease held (a daemon takes it when it starts)")
	}
	if b.LastError != "" {
		fmt.Fprintf(w, "last error: %s\n", b.LastError)
	}
}
