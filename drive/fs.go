package drive

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
)

// RootIno is the inode number of the drive's root directory.
const RootIno uint64 = cache.RootIno

// Attr is what stat(2) shows of an inode.
type Attr struct {
	Ino                 uint64
	Kind                cache.Kind
	Mode                uint32 // permission bits with setuid, setgid and sticky
	UID, GID            uint32
	Size                int64
	Nlink               uint32
	Atime, Mtime, Ctime time.Time
}

// SetAttr names the attributes to change; nil fields stay.
type SetAttr struct {
	Mode         *uint32
	UID, GID     *uint32
	Size         *int64
	Atime, Mtime *time.Time
}

// DirEntry is one name in a directory listing.
type DirEntry struct {
	Name string
	Ino  uint64
	Kind cache.Kind
}

// RenameFlags are rename2(2)'s flags.
type RenameFlags struct {
	NoReplace bool
	Exchange  bool
}

// StatFS is what statfs(2) shows.
type StatFS struct {
	Blocks, Bfree, Bavail, Files, Ffree uint64
	Bsize, Namelen                      uint32
}

// modeMask keeps permission, setuid, setgid and sticky bits.
const modeMask = 0o7777

func attrOf(in cache.Inode) Attr {
	return Attr{Ino: uint64(in.Ino), Kind: in.Kind, Mode: in.Mode & modeMask, UID: in.UID, GID: in.GID,
		Size: in.Size, Nlink: uint32(max(in.Nlink, 0)), Atime: in.Atime, Mtime: in.Mtime, Ctime: in.Ctime}
}

func checkName(name string) error {
	if len(name) > cache.MaxNameLen {
		return fmt.Errorf("%.40s...: %w", name, ErrNameTooLong)
	}
	if err := cache.ValidName(name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// attr returns the attributes of ino, with the size and times an open
// file holds in memory.
func (d *Drive) attr(in cache.Inode) Attr {
	a := attrOf(in)
	if n := d.openNode(in.Ino); n != nil {
		n.f.Lock()
		a.Size, a.Mtime, a.Ctime = n.size, n.mtime, n.ctime
		n.f.Unlock()
	}
	return a
}

// Lookup finds name in directory parent.
func (d *Drive) Lookup(ctx context.Context, parent uint64, name string) (a Attr, err error) {
	if len(name) > cache.MaxNameLen {
		return a, ErrNameTooLong
	}
	var in cache.Inode
	err = d.db.View(ctx, func(tx *cache.Tx) (err error) {
		switch name {
		case ".":
			in, err = tx.Inode(int64(parent))
		case "..":
			in, err = tx.Parent(int64(parent))
		default:
			in, err = tx.Lookup(int64(parent), name)
		}
		return err
	})
	if err != nil {
		return a, err
	}
	return d.attr(in), nil // outside the transaction: attr takes a file's lock
}

// GetAttr returns the attributes of ino.
func (d *Drive) GetAttr(ctx context.Context, ino uint64) (a Attr, err error) {
	var in cache.Inode
	err = d.db.View(ctx, func(tx *cache.Tx) (err error) {
		in, err = tx.Inode(int64(ino))
		return err
	})
	if err != nil {
		return a, err
	}
	return d.attr(in), nil
}

// ReadDir lists directory ino (without . and ..).
func (d *Drive) ReadDir(ctx context.Context, ino uint64) (out []DirEntry, err error) {
	err = d.db.View(ctx, func(tx *cache.Tx) error {
		dir, err := tx.Inode(int64(ino))
		if err != nil {
			return err
		}
		if dir.Kind != cache.KindDir {
			return ErrNotDir
		}
		ents, err := tx.ReadDir(int64(ino))
		for _, e := range ents {
			out = append(out, DirEntry{Name: e.Name, Ino: uint64(e.Ino), Kind: e.Kind})
		}
		return err
	})
	return out, err
}

// create makes a new inode named name in parent and returns it.
func (d *Drive) create(ctx context.Context, parent uint64, name string, in cache.Inode) (cache.Inode, error) {
	if err := d.ReadOnly(); err != nil {
		return in, err
	}
	if err := checkName(name); err != nil {
		return in, err
	}
	now := timeNow()
	in.Atime, in.Mtime, in.Ctime = now, now, now
	in.Mode &= modeMask
	if in.Kind == cache.KindFile {
		id := crypto.NewFileID()
		key := crypto.NewFileKey()
		in.FileID, in.FileKey = id[:], crypto.WrapKey(d.keys.FileWrapKey(), key, id[:])
	}
	err := d.change(ctx, func(tx *cache.Tx) error {
		p, err := tx.Inode(int64(parent))
		if err != nil {
			return err
		}
		if p.Kind != cache.KindDir {
			return ErrNotDir
		}
		if p.Nlink == 0 {
			return fmt.Errorf("%w: directory was removed", ErrNotFound)
		}
		if _, err := tx.Lookup(int64(parent), name); err == nil {
			return fmt.Errorf("%s: %w", name, ErrExists)
		}
		if in.Ino, err = tx.CreateInode(in); err != nil {
			return err
		}
		if err := tx.Link(int64(parent), name, in.Ino); err != nil {
			return err
		}
		if err := d.touchDir(tx, p, now); err != nil {
			return err
		}
		in, err = tx.Inode(in.Ino)
		return err
	})
	return in, err
}

// touchDir sets a directory's mtime and ctime, as a change of its entries does.
func (d *Drive) touchDir(tx *cache.Tx, dir cache.Inode, now time.Time) error {
	dir.Mtime, dir.Ctime = now, now
	return tx.UpdateInode(dir)
}

// Mkdir makes directory name in parent.
func (d *Drive) Mkdir(ctx context.Context, parent uint64, name string, mode, uid, gid uint32) (Attr, error) {
	in, err := d.create(ctx, parent, name, cache.Inode{Kind: cache.KindDir, Mode: mode, UID: uid, GID: gid})
	return attrOf(in), err
}

// Mknod makes a regular file, FIFO or socket.
func (d *Drive) Mknod(ctx context.Context, parent uint64, name string, kind cache.Kind, mode, uid, gid uint32) (Attr, error) {
	if err := d.ReadOnly(); err != nil {
		return Attr{}, err
	}
	switch kind {
	case cache.KindFile, cache.KindFIFO, cache.KindSocket:
	default:
		return Attr{}, fmt.Errorf("mknod of a %s: %w", kind, ErrPermission)
	}
	in, err := d.create(ctx, parent, name, cache.Inode{Kind: kind, Mode: mode, UID: uid, GID: gid})
	return attrOf(in), err
}

// Symlink makes a symbolic link to target.
func (d *Drive) Symlink(ctx context.Context, parent uint64, name, target string, uid, gid uint32) (Attr, error) {
	if err := d.ReadOnly(); err != nil {
		return Attr{}, err
	}
	if len(target) == 0 || len(target) > 4095 || strings.IndexByte(target, 0) >= 0 {
		return Attr{}, fmt.Errorf("symlink target of %d bytes: %w", len(target), ErrInvalid)
	}
	in, err := d.create(ctx, parent, name, cache.Inode{Kind: cache.KindSymlink, Mode: 0o777, UID: uid, GID: gid,
		Target: target, Size: int64(len(target))})
	return attrOf(in), err
}

// Readlink returns a symlink's target.
func (d *Drive) Readlink(ctx context.Context, ino uint64) (target string, err error) {
	err = d.db.View(ctx, func(tx *cache.Tx) error {
		in, err := tx.Inode(int64(ino))
		if err == nil && in.Kind != cache.KindSymlink {
			return ErrInvalid
		}
		target = in.Target
		return err
	})
	return target, err
}

// Link makes newName in newParent another name of ino.
func (d *Drive) Link(ctx context.Context, ino, newParent uint64, newName string) (a Attr, err error) {
	if err := d.ReadOnly(); err != nil {
		return a, err
	}
	if err := checkName(newName); err != nil {
		return a, err
	}
	err = d.change(ctx, func(tx *cache.Tx) error {
		in, err := tx.Inode(int64(ino))
		if err != nil {
			return err
		}
		if in.Kind == cache.KindDir {
			return fmt.Errorf("hard link to a directory: %w", ErrPermission)
		}
		p, err := tx.Inode(int64(newParent))
		if err != nil {
			return err
		}
		if err := tx.Link(int64(newParent), newName, in.Ino); err != nil {
			return err
		}
		now := timeNow()
		if err := d.touchDir(tx, p, now); err != nil {
			return err
		}
		in, err = tx.Inode(in.Ino)
		in.Ctime = now
		if err == nil {
			err = tx.UpdateInode(in)
		}
		a = attrOf(in)
		return err
	})
	if err != nil {
		return a, err
	}
	return d.GetAttr(ctx, ino)
}

// Caller is who asks to remove or rename a name: the request's fsuid and
// fsgid. The drive needs it for the one permission rule it enforces itself,
// the sticky bit (mayDelete); every other check is the front's (the
// kernel's, at the mount).
type Caller struct {
	UID, GID uint32
}

// RootCaller is uid 0, who may remove any name: what fronts with one user
// and tests pass. The path API (Put, Remove) acts as it too.
var RootCaller = Caller{}

// sticky is S_ISVTX, the sticky bit of Attr.Mode.
const sticky = 0o1000

// mayDelete is Linux's check_sticky (fs/namei.c): in a sticky directory,
// only root, the entry's owner or the directory's owner may remove the
// entry, rename it away or replace it by a rename. The kernel cannot apply
// it at the mount (bazil does not pass S_ISVTX on), so the drive does,
// where Linux does: after the lookup, before the checks of the entry's kind.
// The fs.protected_* sysctls are not followed.
func (c Caller) mayDelete(dir, in cache.Inode) error {
	if dir.Mode&sticky == 0 || c.UID == 0 || c.UID == in.UID || c.UID == dir.UID {
		return nil
	}
	return fmt.Errorf("inode %d of uid %d in sticky directory %d of uid %d, asked by uid %d: %w",
		in.Ino, in.UID, dir.Ino, dir.UID, c.UID, ErrPermission)
}

// Unlink removes a name that is not a directory. An open file's data stays
// readable until its last handle closes.
func (d *Drive) Unlink(ctx context.Context, c Caller, parent uint64, name string) error {
	return d.remove(ctx, c, parent, name, false)
}

// Rmdir removes an empty directory.
func (d *Drive) Rmdir(ctx context.Context, c Caller, parent uint64, name string) error {
	return d.remove(ctx, c, parent, name, true)
}

func (d *Drive) remove(ctx context.Context, c Caller, parent uint64, name string, dir bool) error {
	if err := d.ReadOnly(); err != nil {
		return err
	}
	if len(name) > cache.MaxNameLen {
		return ErrNameTooLong
	}
	var gone []int64
	var uncached int64
	err := d.change(ctx, func(tx *cache.Tx) error {
		gone, uncached = nil, 0
		p, err := tx.Inode(int64(parent))
		if err != nil {
			return err
		}
		in, err := tx.Lookup(int64(parent), name)
		if err != nil {
			return err
		}
		if err := c.mayDelete(p, in); err != nil {
			return err
		}
		switch {
		case dir && in.Kind != cache.KindDir:
			return ErrNotDir
		case !dir && in.Kind == cache.KindDir:
			return ErrIsDir
		}
		rows, err := tx.CachedBlockCount(in.Ino, 0)
		if err != nil {
			return err
		}
		if _, err := tx.UnlinkOpen(int64(parent), name, d.files.IsOpen); err != nil {
			return err
		}
		now := timeNow()
		if err := d.touchDir(tx, p, now); err != nil {
			return err
		}
		if after, err := tx.Inode(in.Ino); err == nil {
			after.Ctime = now
			return tx.UpdateInode(after)
		} else if errors.Is(err, cache.ErrNotFound) {
			gone, uncached = append(gone, in.Ino), rows
			return nil
		} else {
			return err
		}
	})
	if err != nil {
		return err
	}
	d.room.add(-uncached)
	for _, ino := range gone {
		d.files.Remove(ino)
	}
	return nil
}

// Rename moves or renames, as rename2(2).
func (d *Drive) Rename(ctx context.Context, c Caller, oldParent uint64, oldName string, newParent uint64, newName string,
	f RenameFlags) error {
	if err := d.ReadOnly(); err != nil {
		return err
	}
	if len(oldName) > cache.MaxNameLen {
		return ErrNameTooLong
	}
	if err := checkName(newName); err != nil {
		return err
	}
	mode := cache.RenameReplace
	switch {
	case f.Exchange && f.NoReplace:
		return ErrInvalid
	case f.Exchange:
		mode = cache.RenameExchange
	case f.NoReplace:
		mode = cache.RenameNoReplace
	}
	var gone, uncached int64
	err := d.change(ctx, func(tx *cache.Tx) error {
		gone, uncached = 0, 0
		var rows int64 // what the local cache holds of the name replaced, if any
		target, err := tx.Lookup(int64(newParent), newName)
		if err == nil {
			if rows, err = tx.CachedBlockCount(target.Ino, 0); err != nil {
				return err
			}
		} else if errors.Is(err, cache.ErrNotFound) {
			target = cache.Inode{}
		} else {
			return err
		}
		if err := c.mayRename(tx, oldParent, oldName, newParent, target, mode); err != nil {
			return err
		}
		moved, replaced, err := tx.Rename(int64(oldParent), oldName, int64(newParent), newName, mode, d.files.IsOpen)
		if err != nil {
			return err
		}
		now := timeNow()
		for _, ino := range []int64{int64(oldParent), int64(newParent), moved.Ino} {
			in, err := tx.Inode(ino)
			if err != nil {
				return err
			}
			in.Ctime = now
			if ino != moved.Ino {
				in.Mtime = now
			}
			if err := tx.UpdateInode(in); err != nil {
				return err
			}
		}
		if replaced.Ino != 0 {
			if in, err := tx.Inode(replaced.Ino); errors.Is(err, cache.ErrNotFound) {
				gone, uncached = replaced.Ino, rows
			} else if err == nil {
				in.Ctime = now
				return tx.UpdateInode(in)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.room.add(-uncached)
	if gone != 0 {
		d.files.Remove(gone)
	}
	return nil
}

// mayRename applies mayDelete to a rename, to the entry moved and to the
// one replaced (or swapped, with RENAME_EXCHANGE), as vfs_rename does: only
// for a rename that would change something. Where the rename fails or does
// nothing anyway (a missing name, RENAME_NOREPLACE over an existing one, two
// names of one inode) it leaves the answer to tx.Rename. target is the
// entry at the new name, Ino 0 if none.
func (c Caller) mayRename(tx *cache.Tx, oldParent uint64, oldName string, newParent uint64, target cache.Inode,
	mode cache.RenameMode) error {
	if c.UID == 0 {
		return nil
	}
	moved, err := tx.Lookup(int64(oldParent), oldName)
	if err != nil || target.Ino == moved.Ino || (target.Ino != 0 && mode == cache.RenameNoReplace) {
		return nil
	}
	op, err := tx.Inode(int64(oldParent))
	if err != nil {
		return err
	}
	if err := c.mayDelete(op, moved); err != nil {
		return err
	}
	if target.Ino == 0 {
		return nil
	}
	np, err := tx.Inode(int64(newParent))
	if err != nil {
		return err
	}
	return c.mayDelete(np, target)
}

// StatFS reports the drive's space. The network has no fixed size, so it
// reports a large, honest-looking figure: what the local cache could hold
// is not the drive's limit.
func (d *Drive) StatFS(ctx context.Context) (StatFS, error) {
	var files int
	err := d.db.View(ctx, func(tx *cache.Tx) error {
		n, err := tx.InodeCount()
		files = n
		return err
	})
	const bsize = 4096
	const total = 1 << 50 / bsize // 1 PiB
	return StatFS{Blocks: total, Bfree: total, Bavail: total, Files: 1 << 32, Ffree: 1<<32 - uint64(files),
		Bsize: bsize, Namelen: cache.MaxNameLen}, err
}
