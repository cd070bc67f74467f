package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/cache"
)

func newGetCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get DRIVE-PATH LOCAL-FILE",
		Short: "Retrieve a file from the drive (LOCAL-FILE - writes to stdout)",
		Long: "Retrieve a file from the drive. The local file appears only when all of it has been fetched,\n" +
			"verified and decrypted; if LOCAL-FILE is a folder, the file keeps its name inside it.",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd.Context(), g, args[0], args[1])
		},
	}
}

func runGet(ctx context.Context, g *globals, src, local string) error {
	s, err := openSession(ctx, g, readOnly)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	in, err := s.drive.Stat(ctx, src)
	if err != nil {
		return err
	}
	if in.Kind != cache.KindFile {
		return fmt.Errorf("%s: %w", src, cache.ErrIsDir)
	}
	dir := os.TempDir()
	if local != "-" {
		if fi, err := os.Stat(local); err == nil && fi.IsDir() {
			local = filepath.Join(local, path.Base(src))
		}
		dir = filepath.Dir(local)
	}
	// Fetch into a temporary file beside the target and rename it into
	// place: a failed or interrupted get never leaves a partial file.
	tmp, err := os.CreateTemp(dir, ".shardrive-get-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Truncate(in.Size); err != nil {
		return err
	}
	bar := newProgress(path.Base(src), in.Size) // bytes written
	_, err = s.drive.Get(ctx, src, bar.writerAt(tmp))
	bar.End(err)
	if err != nil {
		return err
	}
	if local == "-" {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := io.Copy(os.Stdout, tmp)
		return err
	}
	if err := tmp.Chmod(os.FileMode(in.Mode).Perm()); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), in.Atime, in.Mtime); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), local)
}
