//go:build linux

package mount

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/shardrive/shardrive/drive"
)

// Creating small files through the mount, beside the same through the
// drive API: the difference is the kernel round trips and the adapter.
func BenchmarkCreate(b *testing.B) {
	b.Run("Mount", func(b *testing.B) {
		dir, _, _ := mountTest(b)
		data := make([]byte, 4096)
		b.ResetTimer()
		for i := range b.N {
			if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Drive", func(b *testing.B) {
		d := drive.OpenTest(b)
		ctx := context.Background()
		data := make([]byte, 4096)
		b.ResetTimer()
		for i := range b.N {
			_, h, err := d.Create(ctx, drive.RootIno, strconv.Itoa(i), 0o644, 0, 0, drive.OpenFlags{Write: true, Read: true})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.Write(ctx, 0, data); err != nil {
				b.Fatal(err)
			}
			if err := h.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			if err := h.Release(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Sequential write (with fsync) and re-read of a 64 MiB file in 1 MiB
// pieces, through the mount.
func BenchmarkSequential(b *testing.B) {
	const size, piece = 64 << 20, 1 << 20
	buf := pattern(piece, 11)
	b.Run("Write", func(b *testing.B) {
		dir, _, _ := mountTest(b)
		b.SetBytes(size)
		b.ResetTimer()
		for i := range b.N {
			f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < size; off += piece {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same writes straight into the drive, in the pieces the kernel
	// sends (128 KiB): the adapter's and the kernel's share is the rest.
	b.Run("WriteDrive", func(b *testing.B) {
		d := drive.OpenTest(b)
		ctx := context.Background()
		b.SetBytes(size)
		b.ResetTimer()
		for i := range b.N {
			_, h, err := d.Create(ctx, drive.RootIno, strconv.Itoa(i), 0o644, 0, 0, drive.OpenFlags{Read: true, Write: true})
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < size; off += 128 << 10 {
				if _, err := h.Write(ctx, int64(off), buf[:128<<10]); err != nil {
					b.Fatal(err)
				}
			}
			if err := h.Fsync(ctx); err != nil {
				b.Fatal(err)
			}
			if err := h.Release(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Read", func(b *testing.B) {
		dir, _, _ := mountTest(b)
		p := filepath.Join(dir, "f")
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		for off := 0; off < size; off += piece {
			f.Write(buf)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		b.ResetTimer()
		for range b.N {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			for {
				n, err := f.Read(buf)
				if n == 0 || err != nil {
					break
				}
			}
			f.Close()
		}
	})
}
