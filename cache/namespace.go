package cache

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"
)

// RootIno is the drive's root directory.
const RootIno = 1

// MaxNameLen is the longest name a directory entry may have, in bytes, as on
// Linux (NAME_MAX).
const MaxNameLen = 255

// Kind is what an inode is. Stored as an integer: never renumber.
type Kind int

const (
	KindFile    Kind = 1
	KindDir     Kind = 2
	KindSymlink Kind = 3
	KindFIFO    Kind = 4
	KindSocket  Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	case KindFIFO:
		return "fifo"
	case KindSocket:
		return "socket"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// FileMode is the os.FileMode of an inode of kind k with permission bits
// mode (setuid 0o4000, setgid 0o2000 and sticky 0o1000 included).
func FileMode(k Kind, mode uint32) os.FileMode {
	m := os.FileMode(mode & 0o777)
	for bit, fm := range map[uint32]os.FileMode{0o4000: os.ModeSetuid, 0o2000: os.ModeSetgid, 0o1000: os.ModeSticky} {
		if mode&bit != 0 {
			m |= fm
		}
	}
	switch k {
	case KindDir:
		m |= os.ModeDir
	case KindSymlink:
		m |= os.ModeSymlink
	case KindFIFO:
		m |= os.ModeNamedPipe
	case KindSocket:
		m |= os.ModeSocket
	}
	return m
}

// Inode is a file, directory or symlink and its attributes.
type Inode struct {
	Ino                 int64
	Kind                Kind
	Mode                uint32
	UID, GID            uint32
	Size                int64
	Nlink               int
	Atime, Mtime, Ctime time.Time
	FileID              []byte // files only: random, bound into every block's AD
	FileKey             []byte // files only: the per-file key, wrapped
	Target              string // symlinks only
	Inline              []byte // files only: the whole content, when small enough to live in the metadata
}

// Dirent is one name in a directory.
type Dirent struct {
	Name string
	Inode
}

// ValidName reports whether name can be a directory entry.
func ValidName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes, the limit is %d", ErrInvalidName, len(name), MaxNameLen)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("%w: %q contains / or NUL", ErrInvalidName, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %q is not UTF-8", ErrInvalidName, name)
	}
	return nil
}

// SplitPath turns a drive path ("/a/b") into its names. Empty and "."
// components are dropped; ".." is refused rather than resolved, so a path
// always means what it says.
func SplitPath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%w: drive path %q must start with /", ErrInvalidName, p)
	}
	var names []string
	for _, n := range strings.Split(p, "/") {
		if n == "" || n == "." {
			continue
		}
		if err := ValidName(n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, nil
}

const inodeCols = "ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, file_id, file_key, target, inline"

func scanInode(s interface{ Scan(...any) error }, extra ...any) (Inode, error) {
	var in Inode
	var atime, mtime, ctime int64
	var target sql.NullString
	dest := append([]any{&in.Ino, &in.Kind, &in.Mode, &in.UID, &in.GID, &in.Size, &in.Nlink,
		&atime, &mtime, &ctime, &in.FileID, &in.FileKey, &target, &in.Inline}, extra...)
	if err := s.Scan(dest...); err != nil {
		return in, err
	}
	in.Atime, in.Mtime, in.Ctime = time.Unix(0, atime), time.Unix(0, mtime), time.Unix(0, ctime)
	in.Target = target.String
	return in, nil
}

// Inode returns inode ino.
func (t *Tx) Inode(ino int64) (Inode, error) {
	in, err := scanInode(t.queryRow("SELECT "+inodeCols+" FROM inodes WHERE ino = ?", ino))
	return in, notFound(err, fmt.Sprintf("inode %d", ino))
}

// Lookup returns the inode that name in directory parent refers to.
func (t *Tx) Lookup(parent int64, name string) (Inode, error) {
	in, err := scanInode(t.queryRow("SELECT "+prefixed("i.", inodeCols)+
		" FROM dentries d JOIN inodes i ON i.ino = d.ino WHERE d.parent = ? AND d.name = ?", parent, name))
	return in, notFound(err, name)
}

// LookupPath resolves a drive path from the root without following symlinks.
func (t *Tx) LookupPath(p string) (Inode, error) {
	names, err := SplitPath(p)
	if err != nil {
		return Inode{}, err
	}
	in, err := t.Inode(RootIno)
	if err != nil {
		return in, err
	}
	for i, n := range names {
		if in.Kind != KindDir {
			return in, fmt.Errorf("/%s: %w", strings.Join(names[:i], "/"), ErrNotDir)
		}
		if in, err = t.Lookup(in.Ino, n); err != nil {
			return in, fmt.Errorf("/%s: %w", strings.Join(names[:i+1], "/"), ErrNotFound)
		}
	}
	return in, nil
}

// ReadDir lists directory ino, sorted by name.
func (t *Tx) ReadDir(ino int64) ([]Dirent, error) {
	rows, err := t.query("SELECT "+prefixed("i.", inodeCols)+", d.name"+
		" FROM dentries d JOIN inodes i ON i.ino = d.ino WHERE d.parent = ? ORDER BY d.name", ino)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Dirent
	for rows.Next() {
		var d Dirent
		if d.Inode, err = scanInode(rows, &d.Name); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// CreateInode stores a new inode (in.Ino is ignored) and returns its number.
// Link it into a directory with Link. Numbers are never reused, even after
// a delete: the kernel, NFS exports and backup tools take them for identity.
func (t *Tx) CreateInode(in Inode) (int64, error) {
	var target any
	if in.Kind == KindSymlink {
		target = in.Target
	}
	ino, err := t.nextIno()
	if err != nil {
		return 0, err
	}
	_, err = t.exec(`INSERT INTO inodes(ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, file_id, file_key, target, inline)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ino, in.Kind, in.Mode, in.UID, in.GID, in.Size, selfLinks(in.Kind),
		in.Atime.UnixNano(), in.Mtime.UnixNano(), in.Ctime.UnixNano(), in.FileID, in.FileKey, target, in.Inline)
	if err != nil {
		return 0, fmt.Errorf("create inode: %w", err)
	}
	return ino, nil
}

// nextIno hands out inode numbers from a counter in the settings, which
// only grows (it starts past the highest number in use).
func (t *Tx) nextIno() (int64, error) {
	v, err := t.setting("next_ino")
	var n int64
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if err := t.queryRow("SELECT coalesce(max(ino), 0) + 1 FROM inodes").Scan(&n); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("setting next_ino: %d bytes, want 8", len(v))
	default:
		n = int64(binary.BigEndian.Uint64(v))
	}
	return n, t.setSetting("next_ino", u64(uint64(n+1)))
}

// Parent returns the directory holding ino (a directory has one); the root
// is its own parent.
func (t *Tx) Parent(ino int64) (Inode, error) {
	if ino == RootIno {
		return t.Inode(RootIno)
	}
	var p int64
	if err := t.queryRow("SELECT parent FROM dentries WHERE ino = ? LIMIT 1", ino).Scan(&p); err != nil {
		return Inode{}, notFound(err, fmt.Sprintf("parent of inode %d", ino))
	}
	return t.Inode(p)
}

// selfLinks is the link count an inode has before any directory names it:
// a directory's own "." entry.
func selfLinks(k Kind) int {
	if k == KindDir {
		return 1
	}
	return 0
}

// UpdateInode writes back in's attributes (everything but kind and links).
func (t *Tx) UpdateInode(in Inode) error {
	res, err := t.exec(`UPDATE inodes SET mode = ?, uid = ?, gid = ?, size = ?, atime = ?, mtime = ?, ctime = ?,
		file_id = ?, file_key = ?, inline = ? WHERE ino = ?`,
		in.Mode, in.UID, in.GID, in.Size, in.Atime.UnixNano(), in.Mtime.UnixNano(), in.Ctime.UnixNano(),
		in.FileID, in.FileKey, in.Inline, in.Ino)
	if err != nil {
		return fmt.Errorf("update inode %d: %w", in.Ino, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update inode %d: %w", in.Ino, ErrNotFound)
	}
	return nil
}

// Link adds name in directory parent for inode ino.
func (t *Tx) Link(parent int64, name string, ino int64) error {
	if err := ValidName(name); err != nil {
		return err
	}
	dir, err := t.Inode(parent)
	if err != nil {
		return err
	}
	if dir.Kind != KindDir {
		return fmt.Errorf("link %s: %w", name, ErrNotDir)
	}
	child, err := t.Inode(ino)
	if err != nil {
		return err
	}
	if _, err := t.Lookup(parent, name); err == nil {
		return fmt.Errorf("%s: %w", name, ErrExists)
	}
	if _, err := t.exec("INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)", parent, name, ino); err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if _, err := t.exec("UPDATE inodes SET nlink = nlink + 1 WHERE ino = ?", ino); err != nil {
		return err
	}
	if child.Kind == KindDir { // the child's ".." names the parent
		if _, err := t.exec("UPDATE inodes SET nlink = nlink + 1 WHERE ino = ?", parent); err != nil {
			return err
		}
	}
	return nil
}

// Unlink removes name from directory parent. A directory must be empty. When
// the last name of an inode goes, the inode goes too and the shards of its
// blocks are queued as garbage. It returns the unlinked inode as it was.
func (t *Tx) Unlink(parent int64, name string) (Inode, error) {
	return t.unlink(parent, name, nil)
}

// UnlinkOpen is Unlink for a caller that may hold the inode open: if
// isOpen says so when its last name goes, the inode stays (with no links)
// as an orphan until DropOrphan, so its data stays readable until close.
func (t *Tx) UnlinkOpen(parent int64, name string, isOpen func(ino int64) bool) (Inode, error) {
	return t.unlink(parent, name, isOpen)
}

func (t *Tx) unlink(parent int64, name string, isOpen func(int64) bool) (Inode, error) {
	in, err := t.Lookup(parent, name)
	if err != nil {
		return in, err
	}
	if in.Kind == KindDir {
		var n int
		if err := t.queryRow("SELECT count(*) FROM dentries WHERE parent = ?", in.Ino).Scan(&n); err != nil {
			return in, err
		}
		if n > 0 {
			return in, fmt.Errorf("%s: %w", name, ErrNotEmpty)
		}
	}
	if _, err := t.exec("DELETE FROM dentries WHERE parent = ? AND name = ?", parent, name); err != nil {
		return in, fmt.Errorf("unlink %s: %w", name, err)
	}
	drop := 1
	if in.Kind == KindDir {
		drop = 2 // its own "." goes with it
		if _, err := t.exec("UPDATE inodes SET nlink = nlink - 1 WHERE ino = ?", parent); err != nil {
			return in, err
		}
	}
	if in.Nlink-drop > 0 || (isOpen != nil && isOpen(in.Ino)) {
		if _, err := t.exec("UPDATE inodes SET nlink = nlink - ? WHERE ino = ?", drop, in.Ino); err != nil {
			return in, err
		}
		if in.Nlink-drop <= 0 {
			_, err := t.exec("INSERT OR IGNORE INTO orphans(ino) VALUES(?)", in.Ino)
			return in, err
		}
		return in, nil
	}
	return in, t.dropInode(in.Ino)
}

// dropInode deletes an inode with no names left; its shards become garbage.
func (t *Tx) dropInode(ino int64) error {
	if err := t.TruncateBlocks(ino, 0); err != nil {
		return err
	}
	for _, q := range []string{"DELETE FROM cached WHERE ino = ?", "DELETE FROM uploads WHERE ino = ?",
		"DELETE FROM orphans WHERE ino = ?", "DELETE FROM inodes WHERE ino = ?"} {
		if _, err := t.exec(q, ino); err != nil {
			return fmt.Errorf("drop inode %d: %w", ino, err)
		}
	}
	return nil
}

// DropOrphan deletes an unlinked inode once its last user has closed it.
// An inode that was linked again meanwhile is left alone.
func (t *Tx) DropOrphan(ino int64) (dropped bool, err error) {
	in, err := t.Inode(ino)
	if err != nil {
		return false, err
	}
	if in.Nlink > 0 {
		_, err := t.exec("DELETE FROM orphans WHERE ino = ?", ino)
		return false, err
	}
	return true, t.dropInode(ino)
}

// Orphans lists inodes unlinked while open. At start nothing is open, so
// the caller drops them all.
func (t *Tx) Orphans() ([]int64, error) {
	return t.int64s("SELECT ino FROM orphans")
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// InodeCount is the number of inodes in the drive.
func (t *Tx) InodeCount() (int, error) {
	var n int
	err := t.queryRow("SELECT count(*) FROM inodes").Scan(&n)
	return n, err
}
