package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestNewFileKeyAndID(t *testing.T) {
	k1, k2 := NewFileKey(), NewFileKey()
	if k1 == k2 || k1 == (Key{}) {
		t.Error("file keys are not random")
	}
	id1, id2 := NewFileID(), NewFileID()
	if id1 == id2 || id1 == ([16]byte{}) {
		t.Error("file IDs are not random")
	}
}

func TestWrapUnwrap(t *testing.T) {
	kek := NewFileKey()
	k := NewFileKey()
	ad := []byte("file 1")
	w := WrapKey(&kek, k, ad)
	if len(w) != WrappedKeySize {
		t.Fatalf("wrapped key is %d bytes, want %d", len(w), WrappedKeySize)
	}
	if w[0] != WrapVersion {
		t.Errorf("version byte %d", w[0])
	}
	if bytes.Contains(w, k[:8]) {
		t.Error("wrapped key contains the key")
	}
	got, err := UnwrapKey(&kek, w, ad)
	if err != nil {
		t.Fatal(err)
	}
	if got != k {
		t.Error("unwrap returned another key")
	}
	if w2 := WrapKey(&kek, k, ad); bytes.Equal(w, w2) {
		t.Error("two wraps of the same key are equal (nonce reuse)")
	}
	// Empty and nil ad are the same ad.
	w0 := WrapKey(&kek, k, nil)
	if got, err := UnwrapKey(&kek, w0, []byte{}); err != nil || got != k {
		t.Errorf("nil/empty ad: %v", err)
	}
}

func TestUnwrapRejects(t *testing.T) {
	kek, other := NewFileKey(), NewFileKey()
	k := NewFileKey()
	ad := []byte("file 1")
	w := WrapKey(&kek, k, ad)
	flip := func(i int) []byte {
		b := bytes.Clone(w)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name    string
		kek     *Key
		wrapped []byte
		ad      []byte
		want    error
	}{
		{"wrong kek", &other, w, ad, ErrUnauthenticated},
		{"wrong ad", &kek, w, []byte("file 2"), ErrUnauthenticated},
		{"no ad", &kek, w, nil, ErrUnauthenticated},
		{"flipped nonce", &kek, flip(1), ad, ErrUnauthenticated},
		{"flipped ciphertext", &kek, flip(20), ad, ErrUnauthenticated},
		{"flipped tag", &kek, flip(WrappedKeySize - 1), ad, ErrUnauthenticated},
		{"truncated", &kek, w[:WrappedKeySize-1], ad, ErrUnauthenticated},
		{"extended", &kek, append(bytes.Clone(w), 0), ad, ErrUnauthenticated},
		{"empty", &kek, nil, ad, ErrUnauthenticated},
		{"unknown version", &kek, flip(0), ad, ErrUnknownVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnwrapKey(tt.kek, tt.wrapped, tt.ad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got != (Key{}) {
				t.Error("key returned with error")
			}
		})
	}
}

func FuzzUnwrapKey(f *testing.F) {
	kek := Key{1, 2, 3}
	f.Add(WrapKey(&kek, Key{9}, []byte("ad")), []byte("ad"))
	f.Add([]byte{1}, []byte(nil))
	f.Add([]byte{}, []byte("x"))
	f.Fuzz(func(t *testing.T, wrapped, ad []byte) {
		k, err := UnwrapKey(&kek, wrapped, ad)
		if err != nil {
			if k != (Key{}) {
				t.Fatal("key returned with error")
			}
			if !errors.Is(err, ErrUnauthenticated) && !errors.Is(err, ErrUnknownVersion) {
				t.Fatalf("unexpected error class: %v", err)
			}
		}
	})
}
