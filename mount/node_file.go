//go:build linux

package mount

import (
	"context"
	"sync"
	"syscall"

	"bazil.org/fuse"
	"bazil.org/fuse/fs"

	"github.com/shardrive/shardrive/drive"
)

// Files and their handles, and symlinks.

var (
	_ fs.NodeOpener     = file{}
	_ fs.NodeFsyncer    = file{}
	_ fs.NodeReadlinker = symlink{}

	_ fs.Handle         = (*handle)(nil)
	_ fs.HandleReader   = (*handle)(nil)
	_ fs.HandleWriter   = (*handle)(nil)
	_ fs.HandleFlusher  = (*handle)(nil)
	_ fs.HandleReleaser = (*handle)(nil)
	_ fs.HandlePoller   = (*handle)(nil)
)

// openFlags is what the drive needs of open(2)'s flags.
//
// With the write-back cache the kernel reads pages to fill them around
// partial writes, through whatever handle it has, so a write-only open is
// made read-write; and it writes dirty pages at the offsets where they
// belong, with the end of the file tracked by itself, so O_APPEND must not
// move them again.
func (f *fsys) openFlags(fl fuse.OpenFlags) drive.OpenFlags {
	o := drive.OpenFlags{
		Read:      fl.IsReadOnly() || fl.IsReadWrite(),
		Write:     fl.IsWriteOnly() || fl.IsReadWrite(),
		Append:    fl&fuse.OpenAppend != 0,
		Truncate:  fl&fuse.OpenTruncate != 0,
		Exclusive: fl&fuse.OpenExclusive != 0,
	}
	if f.opts.WritebackCache {
		o.Read = o.Read || o.Write
		o.Append = false
	}
	return o
}

func (f *fsys) openResponseFlags() fuse.OpenResponseFlags {
	if f.opts.KeepCache {
		return fuse.OpenKeepCache
	}
	return 0
}

// Open opens a regular file. (Directories are their own handles; FIFOs and
// sockets never reach us: the kernel serves them.)
func (n file) Open(ctx context.Context, req *fuse.OpenRequest, resp *fuse.OpenResponse) (fs.Handle, error) {
	flags := n.fs.openFlags(req.Flags)
	if req.OpenFlags&fuse.OpenKillSUIDGID != 0 {
		if err := n.fs.killPriv(ctx, n.ino); err != nil {
			return nil, n.fs.fail("open", n.ino, err)
		}
	}
	h, err := n.fs.d.Open(ctx, n.ino, flags)
	if err != nil {
		return nil, n.fs.fail("open", n.ino, err)
	}
	resp.Flags |= n.fs.openResponseFlags()
	return n.fs.newHandle(n.ino, h, flags), nil
}

// Fsync answers fsync(2) and fdatasync(2) by syncing every writable handle
// of the file: the kernel's write-back may have sent the data through any
// of them, and the drive keeps one state per file anyway.
func (n file) Fsync(ctx context.Context, req *fuse.FsyncRequest) error {
	for _, h := range n.fs.open.writable(n.ino) {
		if err := h.fsync(ctx); err != nil {
			return n.fs.fail("fsync", n.ino, err)
		}
	}
	return nil
}

// Readlink returns a symlink's target.
func (n symlink) Readlink(ctx context.Context, req *fuse.ReadlinkRequest) (string, error) {
	t, err := n.fs.d.Readlink(ctx, n.ino)
	if err != nil {
		return "", n.fs.fail("readlink", n.ino, err)
	}
	return t, nil
}

// handle is one open file description.
type handle struct {
	fs    *fsys
	ino   uint64
	h     *drive.Handle
	flags drive.OpenFlags

	mu       sync.Mutex // guards released; an fsync through another handle holds it against Release
	released bool
}

func (f *fsys) newHandle(ino uint64, dh *drive.Handle, flags drive.OpenFlags) *handle {
	h := &handle{fs: f, ino: ino, h: dh, flags: flags}
	f.open.add(h)
	return h
}

// Read reads at an offset. The answer is short only at the end of the file;
// an error is never a short answer, since the kernel would take the rest
// of the page for zeros.
func (h *handle) Read(ctx context.Context, req *fuse.ReadRequest, resp *fuse.ReadResponse) error {
	buf := resp.Data[:req.Size]
	n, err := h.h.Read(ctx, req.Offset, buf)
	if err != nil {
		return h.fs.failIO(ctx, "read", h.ino, err)
	}
	resp.Data = buf[:n]
	return nil
}

// Write writes at an offset (at the end for O_APPEND without write-back).
func (h *handle) Write(ctx context.Context, req *fuse.WriteRequest, resp *fuse.WriteResponse) error {
	if req.Flags&fuse.WriteKillSUIDGID != 0 {
		if err := h.fs.killPriv(ctx, h.ino); err != nil {
			return h.fs.fail("write", h.ino, err)
		}
	}
	n, err := h.h.Write(ctx, req.Offset, req.Data)
	if err != nil {
		return h.fs.failIO(ctx, "write", h.ino, err)
	}
	resp.Size = n
	return nil
}

// Flush runs at each close(2): what was written through the handle becomes
// durable, and close reports it if it could not.
func (h *handle) Flush(ctx context.Context, req *fuse.FlushRequest) error {
	if err := h.h.Flush(ctx); err != nil {
		return h.fs.fail("flush", h.ino, err)
	}
	return nil
}

// Release is the last close of the file description.
func (h *handle) Release(ctx context.Context, req *fuse.ReleaseRequest) error {
	h.mu.Lock()
	h.released = true
	h.mu.Unlock()
	h.fs.open.remove(h)
	if err := h.h.Release(ctx); err != nil {
		return h.fs.fail("release", h.ino, err)
	}
	return nil
}

// Poll answers ENOSYS, so that the kernel stops asking (it then reports a
// regular file always ready, as a local disk does). bazil's default answer
// says the same but keeps the kernel asking at every epoll_ctl(2) on a file:
// Go's os.Open registers every file it opens with epoll from inside the
// runtime, holding its P, and a garbage collection that waits for that P
// while the answer needs a goroutine of the same process deadlocks any
// process that opens files on its own mount (tests, or a daemon resolving
// paths under it).
func (h *handle) Poll(ctx context.Context, req *fuse.PollRequest, resp *fuse.PollResponse) error {
	return syscall.ENOSYS
}

func (h *handle) fsync(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return nil
	}
	return h.h.Fsync(ctx)
}
