package meta

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed reports bytes that do not parse as this package's formats.
	ErrMalformed = errors.New("meta: malformed")
	// ErrUnknownVersion reports a format version this binary does not know.
	ErrUnknownVersion = errors.New("meta: unknown format version")
)

// Type is the kind of metadata row a Record carries. Values are part of
// the format: never change or reuse one.
type Type uint8

const (
	TypeSetting Type = 1
	TypeFarmer  Type = 2
	TypeInode   Type = 3
	TypeDentry  Type = 4
	TypeBlock   Type = 5
	TypeXattr   Type = 6
)

func (t Type) String() string {
	switch t {
	case TypeSetting:
		return "setting"
	case TypeFarmer:
		return "farmer"
	case TypeInode:
		return "inode"
	case TypeDentry:
		return "dentry"
	case TypeBlock:
		return "block"
	case TypeXattr:
		return "xattr"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Limits a parser enforces before it allocates anything.
const (
	MaxNameLen    = 255       // dentry names (as the local cache)
	MaxKeyLen     = 1 << 10   // setting keys, xattr names, farmer fields
	MaxValueLen   = 1 << 20   // setting values, xattr values, inline contents
	MaxTargetLen  = 4 << 10   // symlink targets
	MaxSmallField = 256       // file IDs and wrapped file keys
	MaxShards     = 256       // k+m
	MaxRecords    = 100 << 20 // records in one object
)

// Key identifies the row a record is about: Type plus up to two key fields
// (an integer and a string). Within one object a key appears at most once;
// across objects the later one wins.
type Key struct {
	Type Type
	A    int64
	B    string
}

// Setting is a drive-wide setting (key/value), as in the cache's settings
// table. Only settings that describe the drive are backed up.
type Setting struct {
	Key   string
	Value []byte
}

// Farmer is a storage node the drive uses. ID is the local row id that
// Block shards refer to.
type Farmer struct {
	ID      int64
	NodeID  string
	Address string
	State   string
}

// Inode is a file, directory, symlink or special file. Times are Unix
// nanoseconds. Inline is the whole content of a small file when HasInline.
type Inode struct {
	Ino                 int64
	Kind                uint8
	Mode                uint32
	UID, GID            uint32
	Size                int64
	Nlink               int64
	Atime, Mtime, Ctime int64
	FileID, FileKey     []byte
	Target              string
	HasInline           bool
	Inline              []byte
}

// Dentry is a name in a directory.
type Dentry struct {
	Parent int64
	Name   string
	Ino    int64
}

// Block is a committed block of a file and where its shards live.
type Block struct {
	Ino, Index                    int64
	Version                       uint64
	PlainLen, SealedLen, ShardLen int64
	DataShards, ParityShards      int
	NeedsRepair                   bool
	Shards                        []Shard
}

// Shard is one placed shard of a Block: its index, Merkle root and farmer
// (a Farmer.ID).
type Shard struct {
	Index  int
	Root   [32]byte
	Farmer int64
}

// Xattr is a user extended attribute.
type Xattr struct {
	Ino   int64
	Name  string
	Value []byte
}

// Record is one row of the metadata, or its deletion. Exactly the field
// that Type names is set; a deletion carries only the key fields of it.
type Record struct {
	Type    Type
	Deleted bool
	Setting *Setting
	Farmer  *Farmer
	Inode   *Inode
	Dentry  *Dentry
	Block   *Block
	Xattr   *Xattr
}

// Key returns the row r is about.
func (r *Record) Key() Key {
	switch r.Type {
	case TypeSetting:
		return Key{Type: r.Type, B: r.Setting.Key}
	case TypeFarmer:
		return Key{Type: r.Type, A: r.Farmer.ID}
	case TypeInode:
		return Key{Type: r.Type, A: r.Inode.Ino}
	case TypeDentry:
		return Key{Type: r.Type, A: r.Dentry.Parent, B: r.Dentry.Name}
	case TypeBlock:
		return Key{Type: r.Type, A: r.Block.Ino, B: fmt.Sprint(r.Block.Index)}
	case TypeXattr:
		return Key{Type: r.Type, A: r.Xattr.Ino, B: r.Xattr.Name}
	}
	return Key{Type: r.Type}
}

// Record encoding, format version 1 (docs/format/meta.md). Integers are
// varints (zigzag for signed ones), byte strings and strings are a uvarint
// length then the bytes:
//
//	u8 type, u8 flags (bit 0: deleted; bit 1: inline present)
//	key fields:   setting: key | farmer: id | inode: ino | dentry: parent, name
//	              block: ino, index | xattr: ino, name
//	value fields (absent when deleted):
//	  setting: value
//	  farmer:  node ID, address, state
//	  inode:   kind u8, mode, uid, gid, size, nlink, atime, mtime, ctime,
//	           file ID, file key, target[, inline]
//	  dentry:  ino
//	  block:   version, plain len, sealed len, shard len, k, m,
//	           needs repair u8, shard count, shards (index, root [32], farmer)
//	  xattr:   value
const (
	flagDeleted = 1 << 0
	flagInline  = 1 << 1
)

func (r *Record) encode(w *writer) error {
	var flags byte
	if r.Deleted {
		flags |= flagDeleted
	}
	if r.Type == TypeInode && r.Inode != nil && r.Inode.HasInline && !r.Deleted {
		flags |= flagInline
	}
	if !r.hasField() {
		return fmt.Errorf("meta: %v record without its %v", r.Type, r.Type)
	}
	w.u8(byte(r.Type))
	w.u8(flags)
	live := !r.Deleted
	switch r.Type {
	case TypeSetting:
		s := r.Setting
		w.str(s.Key)
		if live {
			w.bytes(s.Value)
		}
	case TypeFarmer:
		f := r.Farmer
		w.varint(f.ID)
		if live {
			w.str(f.NodeID)
			w.str(f.Address)
			w.str(f.State)
		}
	case TypeInode:
		in := r.Inode
		w.varint(in.Ino)
		if live {
			w.u8(in.Kind)
			w.uvarint(uint64(in.Mode))
			w.uvarint(uint64(in.UID))
			w.uvarint(uint64(in.GID))
			w.varint(in.Size)
			w.varint(in.Nlink)
			w.varint(in.Atime)
			w.varint(in.Mtime)
			w.varint(in.Ctime)
			w.bytes(in.FileID)
			w.bytes(in.FileKey)
			w.str(in.Target)
			if in.HasInline {
				w.bytes(in.Inline)
			}
		}
	case TypeDentry:
		d := r.Dentry
		w.varint(d.Parent)
		w.str(d.Name)
		if live {
			w.varint(d.Ino)
		}
	case TypeBlock:
		b := r.Block
		w.varint(b.Ino)
		w.varint(b.Index)
		if live {
			w.uvarint(b.Version)
			w.varint(b.PlainLen)
			w.varint(b.SealedLen)
			w.varint(b.ShardLen)
			w.count(b.DataShards)
			w.count(b.ParityShards)
			w.boolean(b.NeedsRepair)
			w.count(len(b.Shards))
			for _, s := range b.Shards {
				w.count(s.Index)
				w.fixed(s.Root[:])
				w.varint(s.Farmer)
			}
		}
	case TypeXattr:
		x := r.Xattr
		w.varint(x.Ino)
		w.str(x.Name)
		if live {
			w.bytes(x.Value)
		}
	default:
		return fmt.Errorf("meta: cannot encode record type %v", r.Type)
	}
	return nil
}

// hasField reports whether the field Type names is set.
func (r *Record) hasField() bool {
	switch r.Type {
	case TypeSetting:
		return r.Setting != nil
	case TypeFarmer:
		return r.Farmer != nil
	case TypeInode:
		return r.Inode != nil
	case TypeDentry:
		return r.Dentry != nil
	case TypeBlock:
		return r.Block != nil
	case TypeXattr:
		return r.Xattr != nil
	}
	return false
}

const maxInt64 = int64(^uint64(0) >> 1)

func decodeRecord(r *reader) Record {
	var rec Record
	rec.Type = Type(r.u8())
	flags := r.u8()
	if r.err != nil {
		return rec
	}
	if flags&^(flagDeleted|flagInline) != 0 {
		r.fail("record flags %#x", flags)
		return rec
	}
	rec.Deleted = flags&flagDeleted != 0
	if flags&flagInline != 0 && (rec.Type != TypeInode || rec.Deleted) {
		r.fail("inline flag on a %v record", rec.Type)
		return rec
	}
	live := !rec.Deleted
	switch rec.Type {
	case TypeSetting:
		s := &Setting{Key: r.str("setting key", MaxKeyLen)}
		if live {
			s.Value = r.bytes("setting value", MaxValueLen)
		}
		rec.Setting = s
	case TypeFarmer:
		f := &Farmer{ID: r.int("farmer id", 1, maxInt64)}
		if live {
			f.NodeID = r.str("farmer node ID", MaxKeyLen)
			f.Address = r.str("farmer address", MaxKeyLen)
			f.State = r.str("farmer state", MaxKeyLen)
		}
		rec.Farmer = f
	case TypeInode:
		in := &Inode{Ino: r.int("inode", 1, maxInt64)}
		if live {
			in.Kind = r.u8()
			in.Mode = uint32(r.uint32("mode"))
			in.UID = uint32(r.uint32("uid"))
			in.GID = uint32(r.uint32("gid"))
			in.Size = r.int("size", 0, maxInt64)
			in.Nlink = r.int("nlink", 0, 1<<32)
			in.Atime = r.varint()
			in.Mtime = r.varint()
			in.Ctime = r.varint()
			in.FileID = r.bytes("file ID", MaxSmallField)
			in.FileKey = r.bytes("file key", MaxSmallField)
			in.Target = r.str("symlink target", MaxTargetLen)
			if flags&flagInline != 0 {
				in.HasInline = true
				in.Inline = r.bytes("inline content", MaxValueLen)
			}
		}
		rec.Inode = in
	case TypeDentry:
		d := &Dentry{Parent: r.int("parent", 1, maxInt64), Name: r.str("name", MaxNameLen)}
		if r.err == nil && d.Name == "" {
			r.fail("empty name")
		}
		if live {
			d.Ino = r.int("dentry inode", 1, maxInt64)
		}
		rec.Dentry = d
	case TypeBlock:
		b := &Block{Ino: r.int("block inode", 1, maxInt64), Index: r.int("block index", 0, maxInt64)}
		if live {
			b.Version = r.uvarint()
			b.PlainLen = r.int("plain length", 0, maxInt64)
			b.SealedLen = r.int("sealed length", 0, maxInt64)
			b.ShardLen = r.int("shard length", 0, maxInt64)
			b.DataShards = int(r.uvarintMax("data shards", MaxShards))
			b.ParityShards = int(r.uvarintMax("parity shards", MaxShards))
			b.NeedsRepair = r.boolean()
			n := r.count("shard", MaxShards, 34)
			b.Shards = make([]Shard, n)
			for i := range b.Shards {
				s := &b.Shards[i]
				s.Index = int(r.uvarintMax("shard index", MaxShards-1))
				copy(s.Root[:], r.fixed(32))
				s.Farmer = r.int("shard farmer", 1, maxInt64)
			}
		}
		rec.Block = b
	case TypeXattr:
		x := &Xattr{Ino: r.int("xattr inode", 1, maxInt64), Name: r.str("xattr name", MaxKeyLen)}
		if live {
			x.Value = r.bytes("xattr value", MaxValueLen)
		}
		rec.Xattr = x
	default:
		r.fail("unknown record type %d", rec.Type)
	}
	return rec
}

func (r *reader) uint32(what string) uint64 { return r.uvarintMax(what, 1<<32-1) }

func (r *reader) uvarintMax(what string, max uint64) uint64 {
	v := r.uvarint()
	if r.err == nil && v > max {
		r.fail("%s %d more than %d", what, v, max)
		return 0
	}
	return v
}
