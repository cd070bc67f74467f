package mount

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Options are a mount's settings. Start from NewOptions.
//
// Default permissions are always on and not an option: the kernel checks
// mode bits and owners on every access, as on a local disk, so the drive
// never needs to know who is asking except to own new files.
type Options struct {
	// AllowOther lets users other than the one who mounted use the mount.
	// A non-root user needs user_allow_other in /etc/fuse.conf for it.
	AllowOther bool
	// ReadOnly mounts read-only: the kernel answers EROFS to every change.
	ReadOnly bool
	// FSName is the source shown in /proc/mounts and df.
	FSName string
	// MaxReadahead is how far the kernel reads ahead of sequential readers
	// (the kernel may lower it).
	MaxReadahead uint32
	// AttrTimeout and EntryTimeout are how long the kernel may keep
	// attributes and name lookups without asking again. Zero asks every time.
	AttrTimeout, EntryTimeout time.Duration
	// WritebackCache lets the kernel gather writes in its page cache and send
	// them in large pieces. Files opened write-only are then opened for
	// reading and writing too (the kernel reads to fill partial pages), and
	// O_APPEND is left to the kernel, which knows where the end is.
	WritebackCache bool
	// AsyncRead lets the kernel have several reads of one handle in flight.
	AsyncRead bool
	// KeepCache keeps a file's pages in the kernel between opens. Right only
	// while every change goes through this mount (or is announced with
	// Mounted.InvalidateNode).
	KeepCache bool
	// MaxBackground bounds the kernel's background requests (read-ahead,
	// write-back); 0 keeps the kernel's default (12).
	MaxBackground uint16
	// LazyUnmount makes Unmount detach the mount lazily when it stays busy:
	// it disappears from the tree at once and goes away when its last user
	// leaves.
	LazyUnmount bool
	// Logger gets the adapter's errors (Warn) and, at LevelTrace, every FUSE
	// request. Nil discards.
	Logger *slog.Logger
}

// LevelTrace is the level of the per-request FUSE log, below Debug: it names
// files and is loud.
const LevelTrace = slog.LevelDebug - 4

// NewOptions returns the defaults: 1 MiB read-ahead, 1 s attribute and entry
// timeouts, write-back cache and asynchronous reads on.
func NewOptions() Options {
	return Options{
		FSName:         "shardrive",
		MaxReadahead:   1 << 20,
		AttrTimeout:    time.Second,
		EntryTimeout:   time.Second,
		WritebackCache: true,
		AsyncRead:      true,
	}
}

// Validate reports settings that cannot work.
func (o Options) Validate() error {
	switch {
	case o.FSName == "":
		return errors.New("mount: empty FSName")
	case strings.ContainsAny(o.FSName, "\x00\n"):
		return fmt.Errorf("mount: FSName %q has a NUL or newline", o.FSName)
	case o.AttrTimeout < 0 || o.EntryTimeout < 0:
		return fmt.Errorf("mount: negative timeout (attr %v, entry %v)", o.AttrTimeout, o.EntryTimeout)
	}
	return nil
}

// fuseConf is where fusermount3 reads user_allow_other.
const fuseConf = "/etc/fuse.conf"

// checkAllowOther fails early, with the fix, where fusermount3 would refuse
// allow_other.
func checkAllowOther(euid int, conf string) error {
	if euid == 0 {
		return nil
	}
	b, err := os.ReadFile(conf)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("mount: read %s: %w", conf, err)
	}
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if strings.TrimSpace(s.Text()) == "user_allow_other" {
			return nil
		}
	}
	return fmt.Errorf("mount: %w: add a line user_allow_other to %s (as root), or mount without allow-other", ErrAllowOther, conf)
}

// checkFUSE fails early, with the fix, where mounting cannot work.
func checkFUSE() error {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Errorf("mount: %w: %v (load the fuse module, or give the container /dev/fuse)", ErrUnavailable, err)
	}
	if _, err := exec.LookPath("fusermount3"); err != nil {
		return fmt.Errorf("mount: %w: fusermount3 not found (apt-get install fuse3)", ErrUnavailable)
	}
	return nil
}
