package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/cache"
)

type lsOptions struct {
	long  bool
	human bool
}

func newLsCommand(g *globals) *cobra.Command {
	var o lsOptions
	cmd := &cobra.Command{
		Use:   "ls [-l] [DRIVE-PATH]",
		Short: "List a folder of the drive (default /)",
		Args:  rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := "/"
			if len(args) == 1 {
				p = args[0]
			}
			return runLs(cmd.Context(), g, o, p, os.Stdout)
		},
	}
	cmd.Flags().BoolVarP(&o.long, "long", "l", false, "long listing: type and mode, size, modification time, name")
	cmd.Flags().BoolVarP(&o.human, "human-readable", "H", false, "sizes like 4.2 MiB in long listings")
	return cmd
}

func runLs(ctx context.Context, g *globals, o lsOptions, p string, w io.Writer) error {
	s, err := openSession(ctx, g, readOnly)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	in, err := s.drive.Stat(ctx, p)
	if err != nil {
		return err
	}
	ents := []cache.Dirent{{Name: path.Base(p), Inode: in}}
	if in.Kind == cache.KindDir {
		if ents, err = s.drive.ReadDirPath(ctx, p); err != nil {
			return err
		}
	}
	for _, e := range ents {
		if !o.long {
			fmt.Fprintln(w, e.Name)
			continue
		}
		size := fmt.Sprint(e.Size)
		if o.human {
			size = humanize.IBytes(uint64(e.Size))
		}
		fmt.Fprintf(w, "%s %3d %12s %s %s\n", modeString(e.Kind, e.Mode), e.Nlink, size,
			e.Mtime.Local().Format("2006-01-02 15:04:05"), e.Name)
	}
	return nil
}

// modeString renders kind and permission bits as ls -l does.
func modeString(k cache.Kind, mode uint32) string { return cache.FileMode(k, mode).String() }
