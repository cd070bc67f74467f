package drive

import (
	"context"
	"fmt"
	"strings"

	"github.com/shardrive/shardrive/cache"
)

// StatusXattr is a read-only attribute with the file's sync status, for
// people and scripts: getfattr -n user.shardrive.status FILE.
const StatusXattr = "user.shardrive.status"

// File sync states shown by StatusXattr.
const (
	StatusLocal  = "local"  // changes not yet stored on the farmers
	StatusStored = "stored" // everything is on the farmers (or inline in the metadata)
)

const maxXattrValue = 64 << 10

func checkXattrName(name string) error {
	if !userXattrName(name) {
		return fmt.Errorf("extended attribute %q: only user.* names: %w", name, ErrNotSupported)
	}
	return nil
}

// userXattrName reports whether the drive could hold an attribute of this
// name. Reads of other names (ls -l asks for security.selinux and the POSIX
// ACLs of every file) are answered without building an error.
func userXattrName(name string) bool {
	return strings.HasPrefix(name, "user.") && len(name) <= 255 && len(name) > len("user.")
}

// GetXattr returns an extended attribute's value.
func (d *Drive) GetXattr(ctx context.Context, ino uint64, name string) (v []byte, err error) {
	if name == StatusXattr {
		st, err := d.Status(ctx, ino)
		return []byte(st), err
	}
	if !userXattrName(name) {
		return nil, ErrNoXattr
	}
	err = d.db.View(ctx, func(tx *cache.Tx) (err error) {
		if _, err := tx.Inode(int64(ino)); err != nil {
			return err
		}
		v, err = tx.Xattr(int64(ino), name)
		return err
	})
	return v, err
}

// ListXattr lists the extended attribute names of ino.
func (d *Drive) ListXattr(ctx context.Context, ino uint64) (names []string, err error) {
	err = d.db.View(ctx, func(tx *cache.Tx) (err error) {
		names, err = tx.Xattrs(int64(ino))
		return err
	})
	return names, err
}

// XattrFlags are setxattr(2)'s XATTR_CREATE and XATTR_REPLACE.
type XattrFlags struct{ Create, Replace bool }

// SetXattr sets a user.* extended attribute.
func (d *Drive) SetXattr(ctx context.Context, ino uint64, name string, value []byte, f XattrFlags) error {
	if err := d.ReadOnly(); err != nil {
		return err
	}
	if name == StatusXattr {
		return fmt.Errorf("%s is read-only: %w", name, ErrPermission)
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	if len(value) > maxXattrValue {
		return fmt.Errorf("extended attribute of %d bytes: %w", len(value), ErrNoSpace)
	}
	return d.change(ctx, func(tx *cache.Tx) error {
		in, err := tx.Inode(int64(ino))
		if err != nil {
			return err
		}
		if err := tx.SetXattr(in.Ino, name, value, f.Create, f.Replace); err != nil {
			return err
		}
		in.Ctime = timeNow()
		return tx.UpdateInode(in)
	})
}

// RemoveXattr deletes an extended attribute.
func (d *Drive) RemoveXattr(ctx context.Context, ino uint64, name string) error {
	if err := d.ReadOnly(); err != nil {
		return err
	}
	if err := checkXattrName(name); err != nil {
		return ErrNoXattr
	}
	return d.change(ctx, func(tx *cache.Tx) error {
		return tx.RemoveXattr(int64(ino), name)
	})
}

// Status is the sync state of ino: StatusLocal while it has changes the
// farmers do not hold yet, StatusStored after.
func (d *Drive) Status(ctx context.Context, ino uint64) (string, error) {
	st := StatusStored
	if n := d.openNode(int64(ino)); n != nil {
		n.f.Lock()
		if n.f.Unflushed || len(n.f.Dirty()) > 0 {
			st = StatusLocal
		}
		n.f.Unlock()
	}
	err := d.db.View(ctx, func(tx *cache.Tx) error {
		if _, err := tx.Inode(int64(ino)); err != nil {
			return err
		}
		_, queued, err := tx.ChangedSince(int64(ino))
		if queued {
			st = StatusLocal
		}
		return err
	})
	return st, err
}
