package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The v1 fixtures in testdata/golden were written by gen_v1.py, a separate
// Python implementation of docs/format/crypto.md. Reading them proves that
// the Go code and the format document agree, and keeps released formats
// readable forever: never regenerate them, add fixtures for new versions.

type goldenV1 struct {
	Mnemonic      string            `json:"mnemonic"`
	Seed          string            `json:"seed"`
	Keys          map[string]string `json:"keys"`
	KeysFile      string            `json:"keys_file"`
	FarmerID      string            `json:"farmer_id"`
	AccountPublic string            `json:"account_public"`
	FileKey       string            `json:"file_key"`
	FileID        string            `json:"file_id"`
	WrappedKey    string            `json:"wrapped_key"`
	Block         struct {
		File         string `json:"file"`
		Block        uint64 `json:"block"`
		Version      uint64 `json:"version"`
		PlainLen     int    `json:"plain_len"`
		SHA256Sealed string `json:"sha256_sealed"`
	} `json:"block"`
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func loadGoldenV1(tb testing.TB) goldenV1 {
	tb.Helper()
	b, err := os.ReadFile("testdata/golden/v1.json")
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenV1
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatal(err)
	}
	return g
}

func TestGoldenV1Keys(t *testing.T) {
	g := loadGoldenV1(t)
	seed, err := MnemonicSeed(g.Mnemonic)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(seed, unhex(t, g.Seed)) {
		t.Fatal("seed differs from the reference")
	}
	k := mustDerive(t, seed)
	check := k.Check()
	for label, got := range map[string][]byte{
		"file-key-wrap": k.FileWrapKey()[:],
		"metadata":      k.MetadataKey()[:],
		"names":         k.NamesKey()[:],
		"account":       k.account[:],
		"key-check":     check[:],
	} {
		if want := unhex(t, g.Keys[label]); !bytes.Equal(got, want) {
			t.Errorf("%s key = %x, want %x", label, got, want)
		}
	}

	file, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, unhex(t, g.KeysFile)) {
		t.Error("keys file differs from the reference")
	}
	parsed, err := UnmarshalKeys(unhex(t, g.KeysFile))
	if err != nil || *parsed != *k {
		t.Errorf("reference keys file: %v", err)
	}

	pub := k.AccountKey(unhex(t, g.FarmerID)).Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, unhex(t, g.AccountPublic)) {
		t.Errorf("account public key = %x, want %s", pub, g.AccountPublic)
	}
}

func TestGoldenV1WrappedKey(t *testing.T) {
	g := loadGoldenV1(t)
	k := mustDerive(t, unhex(t, g.Seed))
	got, err := UnwrapKey(k.FileWrapKey(), unhex(t, g.WrappedKey), unhex(t, g.FileID))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:], unhex(t, g.FileKey)) {
		t.Error("unwrapped key differs from the reference")
	}
}

func TestGoldenV1Block(t *testing.T) {
	g := loadGoldenV1(t)
	sealed, err := os.ReadFile(filepath.Join("testdata/golden", g.Block.File))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(sealed); hex.EncodeToString(sum[:]) != g.Block.SHA256Sealed {
		t.Fatal("fixture file damaged")
	}
	if len(sealed) != SealedSize(g.Block.PlainLen) {
		t.Fatalf("fixture is %d bytes, SealedSize says %d", len(sealed), SealedSize(g.Block.PlainLen))
	}
	var key Key
	copy(key[:], unhex(t, g.FileKey))
	ad := BlockAD{Block: g.Block.Block, Version: g.Block.Version}
	copy(ad.FileID[:], unhex(t, g.FileID))
	opened, err := OpenBlock(nil, &key, ad, sealed)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range opened {
		want := byte(0)
		if i < g.Block.PlainLen {
			want = byte(i * 7 % 251)
		}
		if b != want {
			t.Fatalf("byte %d = %d, want %d", i, b, want)
		}
	}
	ad.Version--
	if _, err := OpenBlock(nil, &key, ad, sealed); err == nil {
		t.Error("reference block opened under another version")
	}
}
