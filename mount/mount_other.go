//go:build !linux

package mount

import (
	"context"
	"fmt"
	"runtime"

	"github.com/shardrive/shardrive/drive"
)

// The FUSE adapter is Linux-only (bazil.org/fuse builds nowhere else). This
// file keeps the package's API, so that the daemon and the CLI compile and
// vet on every platform; each call fails with ErrUnavailable until another
// front (WebDAV) serves those platforms.

// Mounted is a live mount; there are none on this platform.
type Mounted struct{ dir string }

// Mount fails: FUSE mounts are Linux-only.
func Mount(ctx context.Context, dir string, d *drive.Drive, opts Options) (*Mounted, error) {
	return nil, errUnsupported()
}

// Dir is the mount point.
func (m *Mounted) Dir() string { return m.dir }

// Wait returns at once: nothing is served.
func (m *Mounted) Wait() error { return errUnsupported() }

// Unmount fails: nothing is mounted.
func (m *Mounted) Unmount() error { return errUnsupported() }

// InvalidateEntry fails: there is no kernel cache to invalidate.
func (m *Mounted) InvalidateEntry(parent uint64, name string) error { return errUnsupported() }

// InvalidateNode fails: there is no kernel cache to invalidate.
func (m *Mounted) InvalidateNode(ino uint64) error { return errUnsupported() }

// IsMountPoint fails: it reads Linux's /proc/self/mountinfo.
func IsMountPoint(dir string) (bool, error) { return false, errUnsupported() }

func errUnsupported() error {
	return fmt.Errorf("mount: %w: FUSE mounts are not supported on %s", ErrUnavailable, runtime.GOOS)
}
