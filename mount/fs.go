//go:build linux

package mount

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"bazil.org/fuse"
	"bazil.org/fuse/fs"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/drive"
)

// fsys is the file system bazil serves: the drive and what the adapter
// keeps of open files.
type fsys struct {
	d    *drive.Drive
	opts Options
	log  *slog.Logger
	open openFiles
}

var (
	_ fs.FS         = (*fsys)(nil)
	_ fs.FSStatfser = (*fsys)(nil)
)

// Root is the drive's root directory.
func (f *fsys) Root() (fs.Node, error) { return f.dir(drive.RootIno), nil }

// Statfs answers statfs(2).
func (f *fsys) Statfs(ctx context.Context, req *fuse.StatfsRequest, resp *fuse.StatfsResponse) error {
	s, err := f.d.StatFS(ctx)
	if err != nil {
		return f.fail("statfs", drive.RootIno, err)
	}
	*resp = fuse.StatfsResponse{Blocks: s.Blocks, Bfree: s.Bfree, Bavail: s.Bavail, Files: s.Files, Ffree: s.Ffree,
		Bsize: s.Bsize, Frsize: s.Bsize, Namelen: s.Namelen}
	return nil
}

// node is what every kind of node has: the drive inode it stands for.
//
// Nodes are values, not pointers: bazil keys its node table by the Node
// interface value, so dir{node{f, 7}} built by any lookup is the same key as
// every other dir{node{f, 7}}. One drive inode thus always has one kernel
// node ID, whichever name (hard links) or request produced it, with no cache
// of our own to keep in step with the kernel's FORGETs.
type node struct {
	fs  *fsys
	ino uint64
}

// The kinds of node. A drive inode never changes kind, so two types never
// stand for one inode at once.
type (
	dir     struct{ node }
	file    struct{ node }
	symlink struct{ node }
	special struct{ node } // FIFO or socket: the kernel serves the I/O itself
)

func (f *fsys) dir(ino uint64) dir { return dir{node{f, ino}} }

// nodeOf returns the node for a's inode.
func (f *fsys) nodeOf(a drive.Attr) fs.Node {
	n := node{f, a.Ino}
	switch a.Kind {
	case cache.KindDir:
		return dir{n}
	case cache.KindSymlink:
		return symlink{n}
	case cache.KindFIFO, cache.KindSocket:
		return special{n}
	default:
		return file{n}
	}
}

func (n node) inode() uint64 { return n.ino }

// Attr fills in a's attributes, from the drive answer the request already
// holds when there is one (see remember).
func (n node) Attr(ctx context.Context, a *fuse.Attr) error {
	at, ok := remembered(ctx, n.ino)
	if !ok {
		var err error
		if at, err = n.fs.d.GetAttr(ctx, n.ino); err != nil {
			return n.fs.fail("getattr", n.ino, err)
		}
	}
	n.fs.fill(a, at)
	return nil
}

// preferredIO is st_blksize: the size of FUSE's largest write.
const preferredIO = 128 << 10

func (f *fsys) fill(out *fuse.Attr, a drive.Attr) {
	size := uint64(max(a.Size, 0))
	*out = fuse.Attr{
		Valid:     f.opts.AttrTimeout,
		Inode:     a.Ino,
		Size:      size,
		Blocks:    (size + 511) / 512, // holes are not known here: sparse files count whole
		Atime:     a.Atime,
		Mtime:     a.Mtime,
		Ctime:     a.Ctime,
		Mode:      fileMode(a.Kind, a.Mode),
		Nlink:     a.Nlink,
		Uid:       a.UID,
		Gid:       a.GID,
		BlockSize: preferredIO,
	}
}

// fileMode is the os.FileMode of a drive kind and mode bits.
func fileMode(k cache.Kind, mode uint32) os.FileMode { return cache.FileMode(k, mode) }

// modeBits is the permission, setuid, setgid and sticky bits of m, as the
// drive stores them.
func modeBits(m os.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		b |= syscall.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		b |= syscall.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		b |= syscall.S_ISVTX
	}
	return b
}

func direntType(k cache.Kind) fuse.DirentType {
	switch k {
	case cache.KindFile:
		return fuse.DT_File
	case cache.KindDir:
		return fuse.DT_Dir
	case cache.KindSymlink:
		return fuse.DT_Link
	case cache.KindFIFO:
		return fuse.DT_FIFO
	case cache.KindSocket:
		return fuse.DT_Socket
	}
	return fuse.DT_Unknown
}

// requestContext is bazil's per-request context hook (fs.Config.WithContext).
//
// Only reads and writes of files stay interruptible: they may wait for farmers or for
// room in the cache, and an interrupted one changed nothing or can be
// repeated. Every other request runs to the end whatever the kernel says:
// they are short local metadata work, and a change cut off by an interrupt
// (a signal to the calling thread: Go's runtime sends them all the time)
// would reach the application as EINTR or EIO for something that was in fact
// done, or half-known to it, where a local disk just does it.
//
// After a request that makes or changes a node (lookup, create, mkdir,
// mknod, symlink, link, setattr) bazil asks the node for its attributes once
// more, to answer the kernel. The drive has just returned them, so the
// request's context carries them to Attr instead of a second query.
func requestContext(ctx context.Context, req fuse.Request) context.Context {
	switch r := req.(type) {
	case *fuse.ReadRequest:
		if !r.Dir {
			return ctx
		}
	case *fuse.WriteRequest:
		return ctx
	case *fuse.LookupRequest, *fuse.CreateRequest, *fuse.MkdirRequest, *fuse.MknodRequest,
		*fuse.SymlinkRequest, *fuse.LinkRequest, *fuse.SetattrRequest:
		ctx = context.WithValue(ctx, rememberKey{}, &attrMemo{})
	}
	return context.WithoutCancel(ctx)
}

type rememberKey struct{}

type attrMemo struct {
	a  drive.Attr
	ok bool
}

func remember(ctx context.Context, a drive.Attr) {
	if m, ok := ctx.Value(rememberKey{}).(*attrMemo); ok {
		m.a, m.ok = a, true
	}
}

func remembered(ctx context.Context, ino uint64) (drive.Attr, bool) {
	if m, ok := ctx.Value(rememberKey{}).(*attrMemo); ok && m.ok && m.a.Ino == ino {
		return m.a, true
	}
	return drive.Attr{}, false
}

// openFiles is the set of open handles per inode. fsync(2) reaches a node,
// not a handle bazil would let us find, and the kernel's write-back may
// have written through any writable handle of the file: fsync syncs them all.
type openFiles struct {
	mu    sync.Mutex // guards byIno
	byIno map[uint64]map[*handle]struct{}
}

func (o *openFiles) add(h *handle) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byIno == nil {
		o.byIno = make(map[uint64]map[*handle]struct{})
	}
	hs := o.byIno[h.ino]
	if hs == nil {
		hs = make(map[*handle]struct{})
		o.byIno[h.ino] = hs
	}
	hs[h] = struct{}{}
}

func (o *openFiles) remove(h *handle) {
	o.mu.Lock()
	defer o.mu.Unlock()
	hs := o.byIno[h.ino]
	delete(hs, h)
	if len(hs) == 0 {
		delete(o.byIno, h.ino)
	}
}

// writable returns the open writable handles of ino.
func (o *openFiles) writable(ino uint64) []*handle {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*handle
	for h := range o.byIno[ino] {
		if h.flags.Write {
			out = append(out, h)
		}
	}
	return out
}
