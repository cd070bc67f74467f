//go:build linux

package mount

import (
	"context"
	"os"
	"syscall"

	"bazil.org/fuse"
	"bazil.org/fuse/fs"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/drive"
)

// Directories: lookups, listings and every change of names.

var (
	_ fs.NodeRequestLookuper = dir{}
	_ fs.HandleReadDirAller  = dir{}
	_ fs.NodeMkdirer         = dir{}
	_ fs.NodeCreater         = dir{}
	_ fs.NodeMknoder         = dir{}
	_ fs.NodeSymlinker       = dir{}
	_ fs.NodeLinker          = dir{}
	_ fs.NodeRemover         = dir{}
	_ fs.NodeRenamer         = dir{}
	_ fs.NodeFsyncer         = dir{}
)

// Lookup finds a name. A missing name is ENOENT each time: bazil cannot
// answer with a cached negative entry.
func (d dir) Lookup(ctx context.Context, req *fuse.LookupRequest, resp *fuse.LookupResponse) (fs.Node, error) {
	a, err := d.fs.d.Lookup(ctx, d.ino, req.Name)
	if err != nil {
		return nil, d.fs.fail("lookup", d.ino, err)
	}
	remember(ctx, a)
	resp.EntryValid = d.fs.opts.EntryTimeout
	return d.fs.nodeOf(a), nil
}

// ReadDirAll lists the directory with "." and ".." first, as a local disk
// does (the kernel adds neither). bazil serves the listing to readdir(3) in
// pieces and reads it again on rewinddir.
//
// ".." has the parent's inode number where the drive can name it (a lookup
// of ".."); otherwise bazil makes up a number, which no tool relies on.
func (d dir) ReadDirAll(ctx context.Context) ([]fuse.Dirent, error) {
	ents, err := d.fs.d.ReadDir(ctx, d.ino)
	if err != nil {
		return nil, d.fs.fail("readdir", d.ino, err)
	}
	parent := uint64(0)
	if d.ino == drive.RootIno {
		parent = drive.RootIno
	} else if a, err := d.fs.d.Lookup(ctx, d.ino, ".."); err == nil {
		parent = a.Ino
	}
	out := make([]fuse.Dirent, 0, len(ents)+2)
	out = append(out,
		fuse.Dirent{Inode: d.ino, Type: fuse.DT_Dir, Name: "."},
		fuse.Dirent{Inode: parent, Type: fuse.DT_Dir, Name: ".."})
	for _, e := range ents {
		out = append(out, fuse.Dirent{Inode: e.Ino, Type: direntType(e.Kind), Name: e.Name})
	}
	return out, nil
}

// owner is who owns a new entry: the caller's fsuid and fsgid, except that
// in a setgid directory the entry takes the directory's group and a new
// subdirectory stays setgid, as on a local disk. (The kernel leaves this to
// the file system; it does strip a new file's setgid bit itself where the
// caller is not in the group.) Umask needs nothing: the kernel applies it to
// the mode before sending it, as we do not ask for FUSE_DONT_MASK.
type owner struct {
	uid, gid uint32
	setgid   bool // the parent is setgid
}

func (d dir) owner(ctx context.Context, h fuse.Header) (owner, error) {
	o := owner{uid: h.Uid, gid: h.Gid}
	p, err := d.fs.d.GetAttr(ctx, d.ino)
	if err != nil {
		return o, err
	}
	if p.Mode&syscall.S_ISGID != 0 {
		o.gid, o.setgid = p.GID, true
	}
	return o, nil
}

// Mkdir makes a directory.
func (d dir) Mkdir(ctx context.Context, req *fuse.MkdirRequest) (fs.Node, error) {
	o, err := d.owner(ctx, req.Header)
	if err != nil {
		return nil, d.fs.fail("mkdir", d.ino, err)
	}
	mode := modeBits(req.Mode)
	if o.setgid {
		mode |= syscall.S_ISGID
	}
	a, err := d.fs.d.Mkdir(ctx, d.ino, req.Name, mode, o.uid, o.gid)
	if err != nil {
		return nil, d.fs.fail("mkdir", d.ino, err)
	}
	remember(ctx, a)
	return d.fs.dir(a.Ino), nil
}

// Create makes and opens a regular file (open with O_CREAT). The kernel
// sends it only after a lookup found no such name; O_EXCL still reaches the
// drive, which answers EEXIST if the name appeared meanwhile.
func (d dir) Create(ctx context.Context, req *fuse.CreateRequest, resp *fuse.CreateResponse) (fs.Node, fs.Handle, error) {
	o, err := d.owner(ctx, req.Header)
	if err != nil {
		return nil, nil, d.fs.fail("create", d.ino, err)
	}
	flags := d.fs.openFlags(req.Flags)
	a, h, err := d.fs.d.Create(ctx, d.ino, req.Name, modeBits(req.Mode), o.uid, o.gid, flags)
	if err != nil {
		return nil, nil, d.fs.fail("create", d.ino, err)
	}
	remember(ctx, a)
	resp.EntryValid = d.fs.opts.EntryTimeout
	resp.Flags |= d.fs.openResponseFlags()
	return d.fs.nodeOf(a), d.fs.newHandle(a.Ino, h, flags), nil
}

// Mknod makes a regular file, FIFO or socket; device nodes are refused
// with EPERM (the drive has no use for them, and nodev would stop them).
func (d dir) Mknod(ctx context.Context, req *fuse.MknodRequest) (fs.Node, error) {
	var kind cache.Kind
	switch t := req.Mode.Type(); {
	case t&os.ModeNamedPipe != 0:
		kind = cache.KindFIFO
	case t&os.ModeSocket != 0:
		kind = cache.KindSocket
	case t&os.ModeDevice != 0:
		return nil, errnoError(syscall.EPERM, "mknod of a device")
	case t == 0 || t == os.ModeIrregular: // S_IFREG, or no type: a regular file
		kind = cache.KindFile
	default:
		return nil, errnoError(syscall.EINVAL, "mknod of type %v", t)
	}
	o, err := d.owner(ctx, req.Header)
	if err != nil {
		return nil, d.fs.fail("mknod", d.ino, err)
	}
	a, err := d.fs.d.Mknod(ctx, d.ino, req.Name, kind, modeBits(req.Mode), o.uid, o.gid)
	if err != nil {
		return nil, d.fs.fail("mknod", d.ino, err)
	}
	remember(ctx, a)
	return d.fs.nodeOf(a), nil
}

// Symlink makes a symbolic link.
func (d dir) Symlink(ctx context.Context, req *fuse.SymlinkRequest) (fs.Node, error) {
	o, err := d.owner(ctx, req.Header)
	if err != nil {
		return nil, d.fs.fail("symlink", d.ino, err)
	}
	a, err := d.fs.d.Symlink(ctx, d.ino, req.NewName, req.Target, o.uid, o.gid)
	if err != nil {
		return nil, d.fs.fail("symlink", d.ino, err)
	}
	remember(ctx, a)
	return d.fs.nodeOf(a), nil
}

// inoder is every node: the inode it stands for.
type inoder interface{ inode() uint64 }

// Link makes a hard link to old in this directory. The answer is the same
// node value as old's, so the kernel sees one inode under both names.
func (d dir) Link(ctx context.Context, req *fuse.LinkRequest, old fs.Node) (fs.Node, error) {
	o, ok := old.(inoder)
	if !ok {
		return nil, errnoError(syscall.EIO, "link to a foreign node %T", old)
	}
	a, err := d.fs.d.Link(ctx, o.inode(), d.ino, req.NewName)
	if err != nil {
		return nil, d.fs.fail("link", d.ino, err)
	}
	remember(ctx, a)
	return d.fs.nodeOf(a), nil
}

// caller is who made a request, for the sticky-bit rule the drive applies
// on unlink, rmdir and rename (the kernel does not: see doc.go).
func caller(h fuse.Header) drive.Caller { return drive.Caller{UID: h.Uid, GID: h.Gid} }

// Remove answers unlink(2) and rmdir(2). An unlinked file that is still
// open stays readable through its handles: the drive drops it at the last
// release.
func (d dir) Remove(ctx context.Context, req *fuse.RemoveRequest) error {
	var err error
	if req.Dir {
		err = d.fs.d.Rmdir(ctx, caller(req.Header), d.ino, req.Name)
	} else {
		err = d.fs.d.Unlink(ctx, caller(req.Header), d.ino, req.Name)
	}
	if err != nil {
		return d.fs.fail("remove", d.ino, err)
	}
	return nil
}

// Rename answers rename(2). renameat2(2) with flags arrives as RENAME2,
// which bazil answers ENOSYS: the kernel then answers EINVAL to that call
// and every later one with flags (see doc.go).
func (d dir) Rename(ctx context.Context, req *fuse.RenameRequest, newDir fs.Node) error {
	nd, ok := newDir.(dir)
	if !ok {
		return errnoError(syscall.ENOTDIR, "rename into a %T", newDir)
	}
	if err := d.fs.d.Rename(ctx, caller(req.Header), d.ino, req.OldName, nd.ino, req.NewName, drive.RenameFlags{}); err != nil {
		return d.fs.fail("rename", d.ino, err)
	}
	return nil
}

// Fsync of a directory: every change of names is committed by the drive
// before it answers, so there is nothing left to sync.
func (d dir) Fsync(ctx context.Context, req *fuse.FsyncRequest) error { return nil }
