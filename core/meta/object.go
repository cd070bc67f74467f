package meta

import (
	"bytes"
	"fmt"
)

// ObjectKind says whether an object holds the whole metadata or changes.
// Values are part of the format.
type ObjectKind uint8

const (
	// Checkpoint: every row of the metadata at one moment; no deletions.
	Checkpoint ObjectKind = 1
	// Segment: the rows that changed (or went) since the objects before it.
	Segment ObjectKind = 2
)

func (k ObjectKind) String() string {
	switch k {
	case Checkpoint:
		return "checkpoint"
	case Segment:
		return "segment"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Object is a checkpoint or log segment: what the metadata backup seals,
// erasure-codes and stores on the farmers like file blocks.
type Object struct {
	Kind    ObjectKind
	Seq     uint64 // the object's number: grows with every object a drive writes
	Records []Record
}

// Object plaintext, format version 1 (docs/format/meta.md):
//
//	offset size field
//	     0    8 magic "SHDRMETA"
//	     8    1 format version = 1
//	     9    1 kind (1 checkpoint, 2 segment)
//	    10    . seq (uvarint), record count (uvarint)
//	     .    . records, each a uvarint length then the record encoding
//
// Nothing may follow the last record. A key appears at most once in an
// object and a checkpoint holds no deletions.
const (
	objectMagic         = "SHDRMETA"
	ObjectFormatVersion = 1
)

// EncodeObject returns o's plaintext encoding.
func EncodeObject(o Object) ([]byte, error) {
	if o.Kind != Checkpoint && o.Kind != Segment {
		return nil, fmt.Errorf("meta: encode object of kind %v", o.Kind)
	}
	w := &writer{}
	w.fixed([]byte(objectMagic))
	w.u8(ObjectFormatVersion)
	w.u8(byte(o.Kind))
	w.uvarint(o.Seq)
	w.count(len(o.Records))
	var rw writer
	for i := range o.Records {
		r := &o.Records[i]
		if o.Kind == Checkpoint && r.Deleted {
			return nil, fmt.Errorf("meta: a checkpoint cannot hold a deletion (%v)", r.Key())
		}
		rw.b = rw.b[:0]
		if err := r.encode(&rw); err != nil {
			return nil, err
		}
		w.bytes(rw.b)
	}
	return w.b, nil
}

// DecodeObject parses an object's plaintext. It refuses anything that
// EncodeObject would not have written.
func DecodeObject(b []byte) (Object, error) {
	var o Object
	if len(b) < len(objectMagic)+2 || !bytes.Equal(b[:len(objectMagic)], []byte(objectMagic)) {
		return o, fmt.Errorf("%w: not a metadata object", ErrMalformed)
	}
	if v := b[len(objectMagic)]; v != ObjectFormatVersion {
		return o, fmt.Errorf("%w: metadata object: want version %d, have %d", ErrUnknownVersion, ObjectFormatVersion, v)
	}
	r := &reader{b: b[len(objectMagic)+1:]}
	o.Kind = ObjectKind(r.u8())
	if r.err == nil && o.Kind != Checkpoint && o.Kind != Segment {
		return o, fmt.Errorf("%w: object kind %d", ErrMalformed, o.Kind)
	}
	o.Seq = r.uvarint()
	n := r.count("record", MaxRecords, 3)
	if r.err != nil {
		return Object{}, r.err
	}
	o.Records = make([]Record, 0, n)
	seen := make(map[Key]bool, n)
	for i := 0; i < n; i++ {
		body := r.bytes("record", 2*MaxValueLen)
		if r.err != nil {
			return Object{}, r.err
		}
		rr := &reader{b: body}
		rec := decodeRecord(rr)
		rr.done("record")
		if rr.err != nil {
			return Object{}, fmt.Errorf("record %d: %w", i, rr.err)
		}
		if o.Kind == Checkpoint && rec.Deleted {
			return Object{}, fmt.Errorf("%w: record %d: deletion in a checkpoint", ErrMalformed, i)
		}
		k := rec.Key()
		if seen[k] {
			return Object{}, fmt.Errorf("%w: record %d: %v %d/%q appears twice", ErrMalformed, i, k.Type, k.A, k.B)
		}
		seen[k] = true
		o.Records = append(o.Records, rec)
	}
	r.done("the last record")
	if r.err != nil {
		return Object{}, r.err
	}
	return o, nil
}

// Merge folds record lists, oldest first, into one with the newest record
// of each key: what applying them in order would leave. Deletions stay,
// since an older object may still hold the row they delete.
func Merge(lists ...[]Record) []Record {
	idx := make(map[Key]int)
	var out []Record
	for _, l := range lists {
		for _, r := range l {
			k := r.Key()
			if i, ok := idx[k]; ok {
				out[i] = r
				continue
			}
			idx[k] = len(out)
			out = append(out, r)
		}
	}
	return out
}
