package meta

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/shardrive/shardrive/core/crypto"
)

// ErrBadSignature reports a root record not signed by this drive's
// mnemonic: forged, or written under other keys.
var ErrBadSignature = errors.New("meta: root record signature does not verify")

// ErrDecrypt reports a root record that verifies but does not decrypt:
// only possible with the signing key, so a bug or a broken key set.
var ErrDecrypt = errors.New("meta: root record does not decrypt")

// Root is the signed, versioned pointer to the newest metadata backup: the
// drive's shape, its writer, its farmers and the objects to replay.
type Root struct {
	Version      uint64 // only grows; farmers refuse to store a lower one
	Time         time.Time
	DriveID      [16]byte
	DataShards   int
	ParityShards int
	BlockSize    int
	Device       [16]byte  // the device that holds the writer's lease
	LeaseUntil   time.Time // the lease ends here unless renewed
	Farmers      []string  // addresses, nodeid@host:port
	Objects      []ObjectRef
}

// ObjectRef locates one object: a checkpoint first, then segments in the
// order they apply.
type ObjectRef struct {
	Kind    ObjectKind
	Seq     uint64
	Records int64 // records in the object, a sanity check and for status
	Bytes   int64 // plaintext bytes
	Parts   []Part
}

// Part is one sealed, erasure-coded piece of an object, stored like a file
// block: its block version (bound into the seal), lengths and shards.
type Part struct {
	Version                       uint64
	PlainLen, SealedLen, ShardLen int64
	Shards                        []PartShard
}

// PartShard is a placed shard: its index, the farmer (an index into
// Root.Farmers) and its Merkle root.
type PartShard struct {
	Index  int
	Farmer int
	Root   [32]byte
}

// Root record on the wire, format version 1 (docs/format/meta.md):
//
//	offset size field
//	     0    8 magic "SHDRROOT"
//	     8    1 format version = 1
//	     9    8 root version, uint64 big-endian (farmers read it)
//	    17   12 nonce, random for every seal
//	    29    n AES-256-GCM ciphertext and tag of the body; AD = bytes [0, 17)
//	  29+n   64 ed25519 signature over bytes [0, 29+n)
//
// The body is: version (uvarint, equal to the header's), time (varint
// Unix ns), drive ID [16], k, m, block size (uvarints), device [16], lease
// end (varint Unix ns), farmer count and addresses, object count and
// objects (kind u8, seq, records, bytes, part count, parts: version,
// plain/sealed/shard length, shard count, shards: index, farmer, root [32]).
//
// Each farmer gets its own seal (a fresh nonce), so the bytes two farmers
// hold cannot be matched to each other.
const (
	rootMagic         = "SHDRROOT"
	RootFormatVersion = 1
	rootHeaderSize    = len(rootMagic) + 1 + 8
	rootNonceSize     = 12
	// MaxRootSize bounds a sealed root record; farmers refuse bigger ones.
	MaxRootSize = 256 << 10
	maxFarmers  = 4096
	maxObjects  = 4096
	maxParts    = 1 << 20
)

// SealRoot encrypts r under sealKey and signs it with sign.
func SealRoot(r *Root, sealKey *crypto.Key, sign ed25519.PrivateKey) ([]byte, error) {
	body, err := encodeRoot(r)
	if err != nil {
		return nil, err
	}
	aead, err := rootAEAD(sealKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, rootHeaderSize, rootHeaderSize+rootNonceSize+len(body)+aead.Overhead()+ed25519.SignatureSize)
	copy(out, rootMagic)
	out[len(rootMagic)] = RootFormatVersion
	binary.BigEndian.PutUint64(out[len(rootMagic)+1:], r.Version)
	nonce := make([]byte, rootNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		panic("meta: read random nonce: " + err.Error())
	}
	out = append(out, nonce...)
	out = aead.Seal(out, nonce, body, out[:rootHeaderSize])
	out = append(out, ed25519.Sign(sign, out)...)
	if len(out) > MaxRootSize {
		return nil, fmt.Errorf("meta: root record of %d bytes, more than %d", len(out), MaxRootSize)
	}
	return out, nil
}

// RootVersion reads the version in a sealed root's header without
// checking anything: for ordering candidates before verifying them.
func RootVersion(b []byte) (uint64, error) {
	if len(b) < rootHeaderSize || !bytes.Equal(b[:len(rootMagic)], []byte(rootMagic)) {
		return 0, fmt.Errorf("%w: not a root record", ErrMalformed)
	}
	return binary.BigEndian.Uint64(b[len(rootMagic)+1:]), nil
}

// OpenRoot verifies a sealed root record with pub, decrypts it with
// sealKey and parses it.
func OpenRoot(b []byte, sealKey *crypto.Key, pub ed25519.PublicKey) (*Root, error) {
	if len(b) > MaxRootSize {
		return nil, fmt.Errorf("%w: root record of %d bytes", ErrMalformed, len(b))
	}
	if len(b) < rootHeaderSize+rootNonceSize+16+ed25519.SignatureSize || !bytes.Equal(b[:len(rootMagic)], []byte(rootMagic)) {
		return nil, fmt.Errorf("%w: not a root record", ErrMalformed)
	}
	if v := b[len(rootMagic)]; v != RootFormatVersion {
		return nil, fmt.Errorf("%w: root record: want version %d, have %d", ErrUnknownVersion, RootFormatVersion, v)
	}
	signed, sig := b[:len(b)-ed25519.SignatureSize], b[len(b)-ed25519.SignatureSize:]
	if !ed25519.Verify(pub, signed, sig) {
		return nil, ErrBadSignature
	}
	aead, err := rootAEAD(sealKey)
	if err != nil {
		return nil, err
	}
	nonce := signed[rootHeaderSize : rootHeaderSize+rootNonceSize]
	body, err := aead.Open(nil, nonce, signed[rootHeaderSize+rootNonceSize:], signed[:rootHeaderSize])
	if err != nil {
		return nil, ErrDecrypt
	}
	r, err := decodeRoot(body)
	if err != nil {
		return nil, err
	}
	if hv := binary.BigEndian.Uint64(b[len(rootMagic)+1:]); hv != r.Version {
		return nil, fmt.Errorf("%w: root record header says version %d, body %d", ErrMalformed, hv, r.Version)
	}
	return r, nil
}

func rootAEAD(key *crypto.Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("meta: root cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

func encodeRoot(r *Root) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	w := &writer{}
	w.uvarint(r.Version)
	w.varint(r.Time.UnixNano())
	w.fixed(r.DriveID[:])
	w.count(r.DataShards)
	w.count(r.ParityShards)
	w.count(r.BlockSize)
	w.fixed(r.Device[:])
	w.varint(r.LeaseUntil.UnixNano())
	w.count(len(r.Farmers))
	for _, f := range r.Farmers {
		w.str(f)
	}
	w.count(len(r.Objects))
	for _, o := range r.Objects {
		w.u8(byte(o.Kind))
		w.uvarint(o.Seq)
		w.varint(o.Records)
		w.varint(o.Bytes)
		w.count(len(o.Parts))
		for _, p := range o.Parts {
			w.uvarint(p.Version)
			w.varint(p.PlainLen)
			w.varint(p.SealedLen)
			w.varint(p.ShardLen)
			w.count(len(p.Shards))
			for _, s := range p.Shards {
				w.count(s.Index)
				w.count(s.Farmer)
				w.fixed(s.Root[:])
			}
		}
	}
	return w.b, nil
}

func decodeRoot(b []byte) (*Root, error) {
	r := &reader{b: b}
	root := &Root{}
	root.Version = r.uvarint()
	root.Time = time.Unix(0, r.varint())
	copy(root.DriveID[:], r.fixed(16))
	root.DataShards = int(r.uvarintMax("data shards", MaxShards))
	root.ParityShards = int(r.uvarintMax("parity shards", MaxShards))
	root.BlockSize = int(r.uvarintMax("block size", 1<<30))
	copy(root.Device[:], r.fixed(16))
	root.LeaseUntil = time.Unix(0, r.varint())
	nf := r.count("farmer", maxFarmers, 1)
	for i := 0; i < nf && r.err == nil; i++ {
		root.Farmers = append(root.Farmers, r.str("farmer address", MaxKeyLen))
	}
	no := r.count("object", maxObjects, 5)
	for i := 0; i < no && r.err == nil; i++ {
		o := ObjectRef{Kind: ObjectKind(r.u8()), Seq: r.uvarint()}
		o.Records = r.int("object records", 0, MaxRecords)
		o.Bytes = r.int("object bytes", 0, maxInt64)
		np := r.count("part", maxParts, 5)
		for j := 0; j < np && r.err == nil; j++ {
			p := Part{Version: r.uvarint()}
			p.PlainLen = r.int("part length", 0, maxInt64)
			p.SealedLen = r.int("part sealed length", 0, maxInt64)
			p.ShardLen = r.int("part shard length", 0, maxInt64)
			ns := r.count("part shard", MaxShards, 34)
			for k := 0; k < ns && r.err == nil; k++ {
				s := PartShard{Index: int(r.uvarintMax("shard index", MaxShards-1)), Farmer: int(r.uvarintMax("shard farmer", maxFarmers))}
				copy(s.Root[:], r.fixed(32))
				p.Shards = append(p.Shards, s)
			}
			o.Parts = append(o.Parts, p)
		}
		root.Objects = append(root.Objects, o)
	}
	r.done("the root record")
	if r.err != nil {
		return nil, r.err
	}
	if err := root.validate(); err != nil {
		return nil, err
	}
	return root, nil
}

// validate checks what both sides of the format rely on.
func (r *Root) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: root record: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	n := r.DataShards + r.ParityShards
	if r.DataShards < 1 || r.ParityShards < 0 || n > MaxShards {
		return bad("k=%d m=%d", r.DataShards, r.ParityShards)
	}
	if len(r.Farmers) > maxFarmers || len(r.Objects) > maxObjects {
		return bad("%d farmers, %d objects", len(r.Farmers), len(r.Objects))
	}
	var lastSeq uint64
	for i, o := range r.Objects {
		switch {
		case i == 0 && o.Kind != Checkpoint:
			return bad("first object is a %v, want a checkpoint", o.Kind)
		case i > 0 && o.Kind != Segment:
			return bad("object %d is a %v, want a segment", i, o.Kind)
		case i > 0 && o.Seq <= lastSeq:
			return bad("object seq %d after %d", o.Seq, lastSeq)
		case len(o.Parts) == 0:
			return bad("object %d has no parts", o.Seq)
		}
		lastSeq = o.Seq
		for _, p := range o.Parts {
			seen := make(map[int]bool, len(p.Shards))
			for _, s := range p.Shards {
				if s.Index < 0 || s.Index >= n || seen[s.Index] {
					return bad("object %d: shard index %d", o.Seq, s.Index)
				}
				seen[s.Index] = true
				if s.Farmer < 0 || s.Farmer >= len(r.Farmers) {
					return bad("object %d: shard on farmer %d of %d", o.Seq, s.Farmer, len(r.Farmers))
				}
			}
			if len(p.Shards) < r.DataShards {
				return bad("object %d: a part with %d shards, fewer than k=%d", o.Seq, len(p.Shards), r.DataShards)
			}
		}
	}
	return nil
}
