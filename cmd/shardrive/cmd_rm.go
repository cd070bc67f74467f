package main

import (
	"context"
	"path"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/cache"
)

type rmOptions struct {
	recursive bool
}

func newRmCommand(g *globals) *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:   "rm [-r] DRIVE-PATH",
		Short: "Remove a file or empty folder (-r: a folder and everything in it)",
		Long:  "Remove a file or folder from the drive. Its shards are deleted from the farmers that answer now\nand from the others later.",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRm(cmd.Context(), g, o, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "r", false, "remove a folder and its contents")
	return cmd
}

func runRm(ctx context.Context, g *globals, o rmOptions, p string) error {
	s, err := openSession(ctx, g, readWrite)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	if o.recursive {
		err = removeAll(ctx, s, p)
	} else {
		err = s.drive.Remove(ctx, p)
	}
	if err != nil {
		return err
	}
	s.backup(ctx, g)
	return nil
}

func removeAll(ctx context.Context, s *session, p string) error {
	in, err := s.drive.Stat(ctx, p)
	if err != nil {
		return err
	}
	if in.Kind == cache.KindDir {
		ents, err := s.drive.ReadDirPath(ctx, p)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := removeAll(ctx, s, path.Join(p, e.Name)); err != nil {
				return err
			}
		}
	}
	if path.Clean(p) == "/" {
		return nil // empty the root, keep it
	}
	return s.drive.Remove(ctx, p)
}
