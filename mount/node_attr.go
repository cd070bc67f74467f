//go:build linux

package mount

import (
	"context"
	"math"
	"syscall"
	"time"

	"bazil.org/fuse"
	"bazil.org/fuse/fs"
	"golang.org/x/sys/unix"

	"github.com/shardrive/shardrive/drive"
)

// Attributes and extended attributes, the same for every kind of node.

var (
	_ fs.Node              = node{}
	_ fs.NodeSetattrer     = node{}
	_ fs.NodeGetxattrer    = node{}
	_ fs.NodeListxattrer   = node{}
	_ fs.NodeSetxattrer    = node{}
	_ fs.NodeRemovexattrer = node{}
)

// Setattr answers chmod, chown, truncate (by name or open handle: the drive
// truncates by inode either way) and utimes. The kernel has checked the
// caller may (default permissions), cleared setuid and setgid where a local
// disk would, and sends "now" as a time of its own clock.
func (n node) Setattr(ctx context.Context, req *fuse.SetattrRequest, resp *fuse.SetattrResponse) error {
	var s drive.SetAttr
	var any bool
	v := req.Valid
	if v.Mode() {
		m := modeBits(req.Mode)
		s.Mode, any = &m, true
	}
	if v.Uid() {
		uid := req.Uid
		s.UID, any = &uid, true
	}
	if v.Gid() {
		gid := req.Gid
		s.GID, any = &gid, true
	}
	if v.Size() {
		if req.Size > math.MaxInt64 {
			return errnoError(syscall.EFBIG, "truncate to %d bytes", req.Size)
		}
		size := int64(req.Size)
		s.Size, any = &size, true
	}
	if t, ok := setTime(v.Atime(), v.AtimeNow(), req.Atime); ok {
		s.Atime, any = &t, true
	}
	if t, ok := setTime(v.Mtime(), v.MtimeNow(), req.Mtime); ok {
		s.Mtime, any = &t, true
	}
	if v.SetattrKillSUIDGID() {
		// A truncate by a caller without CAP_FSETID (HandleKillPriv).
		if s.Mode != nil {
			m := dropPriv(*s.Mode)
			s.Mode = &m
		} else if m, need, err := n.fs.privToDrop(ctx, n.ino); err != nil {
			return n.fs.fail("setattr", n.ino, err)
		} else if need {
			s.Mode, any = &m, true
		}
	}
	if !any {
		// Only what the drive keeps itself (ctime) or nothing: the
		// attributes bazil answers with come from Attr.
		return nil
	}
	a, err := n.fs.d.SetAttr(ctx, n.ino, s)
	if err != nil {
		return n.fs.fail("setattr", n.ino, err)
	}
	remember(ctx, a)
	return nil
}

// dropPriv is mode without setuid, and without setgid where the group may
// execute (a setgid bit without group execute means mandatory locking, and
// stays), as a write or truncate by an unprivileged caller leaves it.
func dropPriv(mode uint32) uint32 {
	mode &^= syscall.S_ISUID
	if mode&syscall.S_IXGRP != 0 {
		mode &^= syscall.S_ISGID
	}
	return mode
}

// privToDrop returns ino's mode after dropPriv, and whether that changes it.
func (f *fsys) privToDrop(ctx context.Context, ino uint64) (uint32, bool, error) {
	a, err := f.d.GetAttr(ctx, ino)
	if err != nil {
		return 0, false, err
	}
	m := dropPriv(a.Mode)
	return m, m != a.Mode, nil
}

// killPriv clears setuid and setgid of ino where a write, truncate or
// O_TRUNC open by an unprivileged caller would on a local disk. With
// HandleKillPriv the kernel leaves that to us and flags the requests (it
// still sends the mode change itself where it knows the mode, so this is
// often a no-op).
func (f *fsys) killPriv(ctx context.Context, ino uint64) error {
	m, need, err := f.privToDrop(ctx, ino)
	if err != nil || !need {
		return err
	}
	_, err = f.d.SetAttr(ctx, ino, drive.SetAttr{Mode: &m})
	return err
}

// setTime picks a time to set: the one sent, or now when only "now" was.
func setTime(valid, now bool, t time.Time) (time.Time, bool) {
	switch {
	case valid:
		return t, true
	case now:
		return time.Now(), true
	}
	return time.Time{}, false
}

// Getxattr answers getxattr(2). Size probing (size 0) and ERANGE for a
// too small buffer are bazil's: it compares req.Size with the value.
func (n node) Getxattr(ctx context.Context, req *fuse.GetxattrRequest, resp *fuse.GetxattrResponse) error {
	v, err := n.fs.d.GetXattr(ctx, n.ino, req.Name)
	if err != nil {
		return n.fs.fail("getxattr", n.ino, err)
	}
	resp.Xattr = v
	return nil
}

// Listxattr answers listxattr(2); size probing as for Getxattr.
func (n node) Listxattr(ctx context.Context, req *fuse.ListxattrRequest, resp *fuse.ListxattrResponse) error {
	names, err := n.fs.d.ListXattr(ctx, n.ino)
	if err != nil {
		return n.fs.fail("listxattr", n.ino, err)
	}
	resp.Append(names...)
	return nil
}

// Setxattr answers setxattr(2). The drive decides which names it keeps
// (user.* only; others ENOTSUP).
func (n node) Setxattr(ctx context.Context, req *fuse.SetxattrRequest) error {
	if req.Flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return errnoError(syscall.EINVAL, "setxattr flags %#x", req.Flags)
	}
	f := drive.XattrFlags{Create: req.Flags&unix.XATTR_CREATE != 0, Replace: req.Flags&unix.XATTR_REPLACE != 0}
	if err := n.fs.d.SetXattr(ctx, n.ino, req.Name, req.Xattr, f); err != nil {
		return n.fs.fail("setxattr", n.ino, err)
	}
	return nil
}

// Removexattr answers removexattr(2).
func (n node) Removexattr(ctx context.Context, req *fuse.RemovexattrRequest) error {
	if err := n.fs.d.RemoveXattr(ctx, n.ino, req.Name); err != nil {
		return n.fs.fail("removexattr", n.ino, err)
	}
	return nil
}
