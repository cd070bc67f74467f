package meta

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/crypto"
)

func sampleRecords() []Record {
	return []Record{
		{Type: TypeSetting, Setting: &Setting{Key: "block_size", Value: []byte{0, 0, 0, 0, 0, 0x40, 0, 0}}},
		{Type: TypeFarmer, Farmer: &Farmer{ID: 1, NodeID: "abc", Address: "abc@127.0.0.1:7001", State: "active"}},
		{Type: TypeInode, Inode: &Inode{Ino: 1, Kind: 1, Mode: 0o755, UID: 1000, GID: 1000, Nlink: 2, Atime: 1, Mtime: 2, Ctime: 3}},
		{Type: TypeInode, Inode: &Inode{Ino: 2, Kind: 0, Mode: 0o644, Size: 5, Nlink: 1, Mtime: -5,
			FileID: make([]byte, 16), FileKey: make([]byte, 40), HasInline: true, Inline: []byte("hello")}},
		{Type: TypeInode, Inode: &Inode{Ino: 3, Kind: 0, Mode: 0o600, HasInline: true, Inline: []byte{}}},
		{Type: TypeInode, Inode: &Inode{Ino: 4, Kind: 2, Mode: 0o777, Target: "../x"}},
		{Type: TypeDentry, Dentry: &Dentry{Parent: 1, Name: "héllo ☃", Ino: 2}},
		{Type: TypeBlock, Block: &Block{Ino: 2, Index: 7, Version: 99, PlainLen: 10, SealedLen: 65564, ShardLen: 16391,
			DataShards: 4, ParityShards: 2, NeedsRepair: true, Shards: []Shard{{Index: 0, Root: [32]byte{1}, Farmer: 1}, {Index: 5, Root: [32]byte{2}, Farmer: 3}}}},
		{Type: TypeXattr, Xattr: &Xattr{Ino: 2, Name: "user.a", Value: []byte{0, 1}}},
	}
}

func TestObjectRoundTrip(t *testing.T) {
	recs := sampleRecords()
	for _, kind := range []ObjectKind{Checkpoint, Segment} {
		o := Object{Kind: kind, Seq: 42, Records: recs}
		if kind == Segment {
			o.Records = append(o.Records,
				Record{Type: TypeDentry, Deleted: true, Dentry: &Dentry{Parent: 1, Name: "gone"}},
				Record{Type: TypeBlock, Deleted: true, Block: &Block{Ino: 2, Index: 8}})
		}
		b, err := EncodeObject(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeObject(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(o)) {
			t.Fatalf("%v: round trip differs:\n got %+v\nwant %+v", kind, got, o)
		}
		// Every truncation fails cleanly.
		for n := 0; n < len(b); n++ {
			if _, err := DecodeObject(b[:n]); err == nil {
				t.Fatalf("%v: truncated to %d bytes decodes", kind, n)
			}
		}
	}
}

// normalize makes nil and empty byte slices compare equal, except inline
// content, whose presence is carried by HasInline.
func normalize(o Object) Object {
	for i := range o.Records {
		if in := o.Records[i].Inode; in != nil {
			if len(in.FileID) == 0 {
				in.FileID = nil
			}
			if len(in.FileKey) == 0 {
				in.FileKey = nil
			}
			if in.HasInline && in.Inline == nil {
				in.Inline = []byte{}
			}
		}
		if s := o.Records[i].Setting; s != nil && len(s.Value) == 0 {
			s.Value = nil
		}
	}
	return o
}

func TestObjectRefusals(t *testing.T) {
	del := Record{Type: TypeDentry, Deleted: true, Dentry: &Dentry{Parent: 1, Name: "x"}}
	if _, err := EncodeObject(Object{Kind: Checkpoint, Records: []Record{del}}); err == nil {
		t.Fatal("a checkpoint with a deletion encoded")
	}
	dup := sampleRecords()[:1]
	dup = append(dup, dup[0])
	b, err := EncodeObject(Object{Kind: Segment, Records: dup})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeObject(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("duplicate key: %v, want ErrMalformed", err)
	}
	b, _ = EncodeObject(Object{Kind: Segment, Records: sampleRecords()})
	b[8] = 2
	if _, err := DecodeObject(b); !errors.Is(err, ErrUnknownVersion) {
		t.Fatalf("version 2: %v, want ErrUnknownVersion", err)
	}
	b, _ = EncodeObject(Object{Kind: Segment, Records: sampleRecords()})
	if _, err := DecodeObject(append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestMerge(t *testing.T) {
	a := []Record{
		{Type: TypeDentry, Dentry: &Dentry{Parent: 1, Name: "a", Ino: 2}},
		{Type: TypeDentry, Dentry: &Dentry{Parent: 1, Name: "b", Ino: 3}},
	}
	b := []Record{
		{Type: TypeDentry, Deleted: true, Dentry: &Dentry{Parent: 1, Name: "a"}},
		{Type: TypeDentry, Dentry: &Dentry{Parent: 1, Name: "b", Ino: 4}},
		{Type: TypeDentry, Dentry: &Dentry{Parent: 1, Name: "c", Ino: 5}},
	}
	got := Merge(a, b)
	if len(got) != 3 || !got[0].Deleted || got[1].Dentry.Ino != 4 || got[2].Dentry.Ino != 5 {
		t.Fatalf("merge: %+v", got)
	}
}

func sampleRoot() *Root {
	return &Root{
		Version: 7, Time: time.Unix(0, 1700000000123456789), DriveID: [16]byte{1, 2, 3},
		DataShards: 4, ParityShards: 2, BlockSize: 4 << 20, Device: [16]byte{9}, LeaseUntil: time.Unix(0, 1700000600000000000),
		Farmers: []string{"a@127.0.0.1:1", "b@127.0.0.1:2", "c@127.0.0.1:3", "d@127.0.0.1:4"},
		Objects: []ObjectRef{
			{Kind: Checkpoint, Seq: 3, Records: 10, Bytes: 1000, Parts: []Part{{Version: 5, PlainLen: 1000, SealedLen: 65564, ShardLen: 16391,
				Shards: []PartShard{{0, 0, [32]byte{1}}, {1, 1, [32]byte{2}}, {2, 2, [32]byte{3}}, {3, 3, [32]byte{4}}}}}},
			{Kind: Segment, Seq: 4, Records: 1, Bytes: 50, Parts: []Part{{Version: 6, PlainLen: 50, SealedLen: 65564, ShardLen: 16391,
				Shards: []PartShard{{5, 0, [32]byte{1}}, {1, 1, [32]byte{2}}, {2, 2, [32]byte{3}}, {3, 3, [32]byte{4}}}}}},
		},
	}
}

func TestRootSealOpen(t *testing.T) {
	keys := crypto.NewTestKeys(t, "root")
	other := crypto.NewTestKeys(t, "other")
	r := sampleRoot()
	b, err := SealRoot(r, keys.RootSealKey(), keys.RootSigningKey())
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenRoot(b, keys.RootSealKey(), pubOf(keys))
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.UnixNano() != r.Time.UnixNano() || got.LeaseUntil.UnixNano() != r.LeaseUntil.UnixNano() {
		t.Fatal("times differ")
	}
	got.Time, got.LeaseUntil = r.Time, r.LeaseUntil
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	if v, err := RootVersion(b); err != nil || v != 7 {
		t.Fatalf("RootVersion = %d, %v", v, err)
	}
	b2, _ := SealRoot(r, keys.RootSealKey(), keys.RootSigningKey())
	if string(b2[17:29]) == string(b[17:29]) {
		t.Fatal("two seals share a nonce")
	}

	// Under other keys: signature fails (key overwrite).
	if _, err := OpenRoot(b, other.RootSealKey(), pubOf(other)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("other keys: %v, want ErrBadSignature", err)
	}
	forged, _ := SealRoot(r, other.RootSealKey(), other.RootSigningKey())
	if _, err := OpenRoot(forged, keys.RootSealKey(), pubOf(keys)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: %v, want ErrBadSignature", err)
	}
	// Any changed byte fails.
	for i := 0; i < len(b); i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 0x20
		if _, err := OpenRoot(c, keys.RootSealKey(), pubOf(keys)); err == nil {
			t.Fatalf("flipped byte %d opens", i)
		}
	}
}

func pubOf(k *crypto.Keys) []byte { return k.RootSigningKey()[32:] }

func TestRootValidate(t *testing.T) {
	keys := crypto.NewTestKeys(t, "root")
	for name, mut := range map[string]func(*Root){
		"segment first":   func(r *Root) { r.Objects[0].Kind = Segment },
		"seq backwards":   func(r *Root) { r.Objects[1].Seq = 2 },
		"farmer range":    func(r *Root) { r.Objects[0].Parts[0].Shards[0].Farmer = 9 },
		"shard index":     func(r *Root) { r.Objects[0].Parts[0].Shards[0].Index = 6 },
		"too few shards":  func(r *Root) { r.Objects[0].Parts[0].Shards = r.Objects[0].Parts[0].Shards[:3] },
		"no parts":        func(r *Root) { r.Objects[1].Parts = nil },
		"duplicate index": func(r *Root) { r.Objects[0].Parts[0].Shards[1].Index = 0 },
	} {
		r := sampleRoot()
		mut(r)
		if _, err := SealRoot(r, keys.RootSealKey(), keys.RootSigningKey()); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, k := range []ObjectKind{Checkpoint, Segment} {
		b, _ := EncodeObject(Object{Kind: k, Seq: 1, Records: sampleRecords()})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeObject(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to something that decodes the same.
		b2, err := EncodeObject(o)
		if err != nil {
			t.Fatalf("decoded object does not encode: %v", err)
		}
		o2, err := DecodeObject(b2)
		if err != nil || !reflect.DeepEqual(normalize(o), normalize(o2)) {
			t.Fatalf("re-encoding differs: %v", err)
		}
	})
}

func FuzzDecodeRoot(f *testing.F) {
	b, _ := encodeRoot(sampleRoot())
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRoot(b)
		if err != nil {
			return
		}
		if _, err := encodeRoot(r); err != nil {
			t.Fatalf("decoded root does not encode: %v", err)
		}
	})
}
