//go:build linux

package mount

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"bazil.org/fuse"
	"bazil.org/fuse/fs"

	"github.com/shardrive/shardrive/drive"
)

// Mounted is a live mount of a drive.
type Mounted struct {
	dir  string
	conn *fuse.Conn
	srv  *fs.Server
	fsys *fsys

	done chan struct{} // closed when serving has ended
	err  error         // why serving ended; written before done closes

	unmountMu sync.Mutex // one Unmount at a time
}

// Mount mounts d on dir and returns once the mount is live: fusermount3 has
// mounted it and the kernel's INIT has been answered (bazil's fuse.Mount
// does both before it returns), and requests are being served. Unmount, or
// fusermount3 -u from outside, ends it; Wait reports when. ctx bounds the
// mounting only.
func Mount(ctx context.Context, dir string, d *drive.Drive, opts Options) (*Mounted, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkFUSE(); err != nil {
		return nil, err
	}
	if opts.AllowOther {
		if err := checkAllowOther(os.Geteuid(), fuseConf); err != nil {
			return nil, err
		}
	}
	// fusermount3 resolves the mount point; so do we, to find it in
	// /proc/self/mountinfo later.
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, fmt.Errorf("mount: %w", err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("mount: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("mount: %s is not a directory", abs)
	}

	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := fuse.Mount(abs, opts.mountOptions()...)
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", abs, err)
	}
	f := &fsys{d: d, opts: opts, log: log}
	srv := fs.New(conn, &fs.Config{
		Debug: func(msg any) {
			if log.Enabled(context.Background(), LevelTrace) {
				log.Log(context.Background(), LevelTrace, "fuse", "msg", fmt.Sprint(msg))
			}
		},
		WithContext: requestContext,
	})
	m := &Mounted{dir: abs, conn: conn, srv: srv, fsys: f, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		m.err = srv.Serve(f)
		if cerr := conn.Close(); m.err == nil {
			m.err = cerr
		}
	}()
	log.Info("mounted", "dir", abs)
	return m, nil
}

// Dir is the mount point, absolute and without symlinks.
func (m *Mounted) Dir() string { return m.dir }

// Wait returns when serving has ended: after Unmount, or an unmount from
// outside (fusermount3 -u, umount), with the error that ended it if any.
func (m *Mounted) Wait() error {
	<-m.done
	return m.err
}

// Unmount tries to unmount, again a few times while the mount is busy (a
// process inside it, a file open), and waits until serving has ended. If it
// stays busy it fails with ErrBusy, or with Options.LazyUnmount detaches the
// mount lazily and returns at once: the mount leaves the tree now and ends
// when its last user leaves, which Wait reports.
func (m *Mounted) Unmount() error {
	m.unmountMu.Lock()
	defer m.unmountMu.Unlock()
	var err error
	for try := range unmountTries {
		select {
		case <-m.done:
			return nil
		default:
		}
		if err = fuse.Unmount(m.dir); err == nil {
			<-m.done
			return nil
		}
		if mounted, merr := IsMountPoint(m.dir); merr == nil && !mounted {
			<-m.done // unmounted from outside meanwhile
			return nil
		}
		select {
		case <-m.done:
			return nil
		case <-time.After(time.Duration(try+1) * 50 * time.Millisecond):
		}
	}
	if !m.fsys.opts.LazyUnmount {
		return fmt.Errorf("unmount %s: %w: %v", m.dir, ErrBusy, err)
	}
	out, lerr := exec.Command("fusermount3", "-u", "-z", m.dir).CombinedOutput()
	if lerr != nil {
		return fmt.Errorf("lazy unmount %s: %w: %s", m.dir, lerr, strings.TrimSpace(string(out)))
	}
	m.fsys.log.Warn("mount was busy: detached lazily", "dir", m.dir)
	return nil
}

// unmountTries bounds Unmount's attempts: about 2 s in all.
const unmountTries = 8

// InvalidateEntry tells the kernel to forget what it cached of name in
// directory parent: for changes made past the mount (another front of the
// same drive). Nothing cached is no error.
func (m *Mounted) InvalidateEntry(parent uint64, name string) error {
	return notCachedOK(m.srv.InvalidateEntry(m.fsys.dir(parent), name))
}

// InvalidateNode tells the kernel to forget the attributes and the cached
// data of file ino, for changes made past the mount.
func (m *Mounted) InvalidateNode(ino uint64) error {
	n := file{node{m.fsys, ino}}
	if err := notCachedOK(m.srv.InvalidateNodeAttr(n)); err != nil {
		return err
	}
	return notCachedOK(m.srv.InvalidateNodeData(n))
}

func notCachedOK(err error) error {
	if errors.Is(err, fuse.ErrNotCached) {
		return nil
	}
	return err
}

// IsMountPoint reports whether dir (absolute, without symlinks) is a mount
// point, by /proc/self/mountinfo.
func IsMountPoint(dir string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	return mountInfoHas(f, dir)
}

// mountInfoHas reports whether the mountinfo table r lists mount point dir.
// Its fifth field is the mount point, with space, tab, newline and
// backslash escaped as \ooo.
func mountInfoHas(r io.Reader, dir string) (bool, error) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 5 && unescapeMountInfo(fields[4]) == dir {
			return true, nil
		}
	}
	return false, s.Err()
}

func unescapeMountInfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
