package cache

import (
	"errors"
	"fmt"
)

// ErrInvalid is a request the namespace refuses outright, such as moving a
// directory into itself.
var ErrInvalid = errors.New("invalid argument")

// RenameMode says what Rename does when the target name exists.
type RenameMode int

const (
	RenameReplace   RenameMode = iota // rename(2): replace the target
	RenameNoReplace                   // RENAME_NOREPLACE: fail with ErrExists
	RenameExchange                    // RENAME_EXCHANGE: swap the two
)

// Rename moves oldName in oldParent to newName in newParent as rename(2)
// does. isOpen tells whether a replaced target's inode is still open (it
// then stays as an orphan, see UnlinkOpen). It returns the moved inode and
// the replaced one, if any (Ino 0 otherwise).
func (t *Tx) Rename(oldParent int64, oldName string, newParent int64, newName string, mode RenameMode,
	isOpen func(int64) bool) (moved, replaced Inode, err error) {
	if err := ValidName(newName); err != nil {
		return moved, replaced, err
	}
	if moved, err = t.Lookup(oldParent, oldName); err != nil {
		return moved, replaced, err
	}
	np, err := t.Inode(newParent)
	if err != nil {
		return moved, replaced, err
	}
	if np.Kind != KindDir {
		return moved, replaced, fmt.Errorf("%s: %w", newName, ErrNotDir)
	}
	if moved.Kind == KindDir && oldParent != newParent {
		// A directory may not move below itself.
		for at := newParent; at != RootIno; {
			if at == moved.Ino {
				return moved, replaced, fmt.Errorf("move %s into itself: %w", oldName, ErrInvalid)
			}
			if err := t.queryRow("SELECT parent FROM dentries WHERE ino = ? LIMIT 1", at).Scan(&at); err != nil {
				return moved, replaced, notFound(err, "parent")
			}
		}
	}
	target, err := t.Lookup(newParent, newName)
	switch {
	case errors.Is(err, ErrNotFound):
		if mode == RenameExchange {
			return moved, replaced, fmt.Errorf("%s: %w", newName, ErrNotFound)
		}
	case err != nil:
		return moved, replaced, err
	case mode == RenameNoReplace:
		return moved, replaced, fmt.Errorf("%s: %w", newName, ErrExists)
	case target.Ino == moved.Ino:
		return moved, replaced, nil // two names of one inode: rename(2) does nothing
	case mode == RenameExchange:
		return moved, target, t.exchange(oldParent, oldName, moved, newParent, newName, target)
	case moved.Kind == KindDir && target.Kind != KindDir:
		return moved, replaced, fmt.Errorf("%s: %w", newName, ErrNotDir)
	case moved.Kind != KindDir && target.Kind == KindDir:
		return moved, replaced, fmt.Errorf("%s: %w", newName, ErrIsDir)
	default:
		if replaced, err = t.UnlinkOpen(newParent, newName, isOpen); err != nil {
			return moved, replaced, err
		}
	}
	if _, err := t.exec("UPDATE dentries SET parent = ?, name = ? WHERE parent = ? AND name = ?",
		newParent, newName, oldParent, oldName); err != nil {
		return moved, replaced, fmt.Errorf("rename %s: %w", oldName, err)
	}
	if moved.Kind == KindDir && oldParent != newParent {
		if err := t.moveDotDot(oldParent, newParent); err != nil {
			return moved, replaced, err
		}
	}
	return moved, replaced, nil
}

// exchange swaps two names (RENAME_EXCHANGE).
func (t *Tx) exchange(ap int64, an string, a Inode, bp int64, bn string, b Inode) error {
	if _, err := t.exec("UPDATE dentries SET ino = ? WHERE parent = ? AND name = ?", b.Ino, ap, an); err != nil {
		return err
	}
	if _, err := t.exec("UPDATE dentries SET ino = ? WHERE parent = ? AND name = ?", a.Ino, bp, bn); err != nil {
		return err
	}
	if ap == bp || (a.Kind == KindDir) == (b.Kind == KindDir) {
		return nil
	}
	if a.Kind == KindDir {
		return t.moveDotDot(ap, bp)
	}
	return t.moveDotDot(bp, ap)
}

// moveDotDot moves a child directory's ".." link from one parent to another.
func (t *Tx) moveDotDot(from, to int64) error {
	if _, err := t.exec("UPDATE inodes SET nlink = nlink - 1 WHERE ino = ?", from); err != nil {
		return err
	}
	_, err := t.exec("UPDATE inodes SET nlink = nlink + 1 WHERE ino = ?", to)
	return err
}
