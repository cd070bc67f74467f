package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/drive"
)

func newPutCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "put LOCAL-FILE DRIVE-PATH",
		Short: "Store a local file (or - for stdin) in the drive",
		Long: "Store a local file in the drive at DRIVE-PATH (which starts with /), creating missing folders.\n" +
			"If DRIVE-PATH is a folder or ends in /, the file keeps its name inside it. An existing file is\n" +
			"replaced atomically once every block of the new content is stored.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPut(cmd.Context(), g, args[0], args[1])
		},
	}
}

func runPut(ctx context.Context, g *globals, local, dst string) error {
	var r io.Reader = os.Stdin
	var size int64 // 0: unknown (stdin)
	attr := drive.PutAttr{}
	if local != "-" {
		f, err := os.Open(local)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file", errUsage, local)
		}
		r, size = f, fi.Size()
		attr = drive.PutAttr{Mode: uint32(fi.Mode().Perm()), Mtime: fi.ModTime()}
	}
	s, err := openSession(ctx, g, readWrite)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	if strings.HasSuffix(dst, "/") {
		dst = path.Join(dst, path.Base(local))
	} else if in, err := s.drive.Stat(ctx, dst); err == nil && in.Kind == cache.KindDir {
		dst = path.Join(dst, path.Base(local))
	} else if err != nil && !errors.Is(err, cache.ErrNotFound) {
		return err
	}
	if local == "-" && path.Base(dst) == "-" {
		return fmt.Errorf("%w: name the drive file when reading stdin", errUsage)
	}
	bar := newProgress(path.Base(dst), size) // bytes read from the source
	in, err := s.drive.Put(ctx, dst, bar.reader(r), attr)
	bar.End(err)
	if err != nil {
		if ctx.Err() == nil { // not interrupted: delete what the failed put placed now
			s.backup(ctx, g)
		}
		return err
	}
	g.log.Info("stored", "path", dst, "bytes", in.Size)
	s.backup(ctx, g)
	return nil
}
