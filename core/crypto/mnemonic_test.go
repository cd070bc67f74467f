package crypto

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cosmos/go-bip39"
)

type bip39Vectors struct {
	Passphrase string      `json:"passphrase"`
	Vectors    [][3]string `json:"vectors"`
}

func loadBIP39Vectors(tb testing.TB) bip39Vectors {
	tb.Helper()
	b, err := os.ReadFile("testdata/bip39-trezor-256.json")
	if err != nil {
		tb.Fatal(err)
	}
	var v bip39Vectors
	if err := json.Unmarshal(b, &v); err != nil {
		tb.Fatal(err)
	}
	if len(v.Vectors) == 0 {
		tb.Fatal("no vectors")
	}
	return v
}

func TestBIP39TrezorVectors(t *testing.T) {
	v := loadBIP39Vectors(t)
	for _, vec := range v.Vectors {
		entropyHex, mnemonic, seedHex := vec[0], vec[1], vec[2]
		t.Run(entropyHex[:8], func(t *testing.T) {
			entropy, err := hex.DecodeString(entropyHex)
			if err != nil {
				t.Fatal(err)
			}
			got, err := bip39.NewMnemonic(entropy)
			if err != nil {
				t.Fatal(err)
			}
			if got != mnemonic {
				t.Errorf("entropy -> mnemonic:\n got %q\nwant %q", got, mnemonic)
			}
			seed, err := mnemonicSeed(mnemonic, v.Passphrase)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(seed) != seedHex {
				t.Errorf("mnemonic -> seed:\n got %x\nwant %s", seed, seedHex)
			}
			// Case and whitespace do not matter.
			messy := "  " + strings.ToUpper(strings.ReplaceAll(mnemonic, " ", " \t\n ")) + "\n"
			seed2, err := mnemonicSeed(messy, v.Passphrase)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(seed, seed2) {
				t.Error("normalised mnemonic gives a different seed")
			}
		})
	}
}

func TestMnemonicSeedEmptyPassphrase(t *testing.T) {
	// The drive seed is the BIP39 seed with an empty passphrase; pin it for
	// the all-zero-entropy mnemonic (value from the Python reference,
	// testdata/golden/gen_v1.py).
	m := strings.Repeat("abandon ", 23) + "art"
	seed, err := MnemonicSeed(m)
	if err != nil {
		t.Fatal(err)
	}
	const want = "408b285c123836004f4b8842c89324c1f01382450c0d439af345ba7fc49acf705489c6fc77dbd4e3dc1dd8cc6bc9f043db8ada1e243c4a0eafb290d399480840"
	if got := hex.EncodeToString(seed); got != want {
		t.Errorf("seed = %s, want %s", got, want)
	}
}

func TestNewMnemonic(t *testing.T) {
	a, err := NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMnemonic()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two new mnemonics are equal")
	}
	for _, m := range []string{a, b} {
		if n := len(strings.Fields(m)); n != MnemonicWords {
			t.Errorf("new mnemonic has %d words, want %d", n, MnemonicWords)
		}
		norm, err := NormalizeMnemonic(m)
		if err != nil {
			t.Errorf("new mnemonic does not validate: %v", err)
		}
		if norm != m {
			t.Error("new mnemonic is not in canonical form")
		}
		seed, err := MnemonicSeed(m)
		if err != nil || len(seed) != 64 {
			t.Errorf("seed: len %d, err %v", len(seed), err)
		}
	}
}

func TestInvalidMnemonics(t *testing.T) {
	valid := strings.Repeat("abandon ", 23) + "art"
	words := strings.Fields(valid)
	replace := func(i int, w string) string {
		c := append([]string(nil), words...)
		c[i] = w
		return strings.Join(c, " ")
	}
	tests := []struct {
		name, mnemonic, wantMsg string
	}{
		{"empty", "", "have 0"},
		{"blank", " \t\n", "have 0"},
		{"bad checksum", replace(23, "zoo"), "checksum"},
		{"swapped words", "legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave worth sausage title", "checksum"},
		{"unknown word", replace(5, "shardrive"), "word 6"},
		{"misspelled word", replace(0, "abandom"), "word 1"},
		{"punctuation", replace(23, "art."), "word 24"},
		{"non-ascii", replace(2, "abandön"), "word 3"},
		{"12 words (valid BIP39)", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "have 12"},
		{"18 words (valid BIP39)", "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon agent", "have 18"},
		{"23 words", strings.Join(words[:23], " "), "have 23"},
		{"25 words", valid + " abandon", "have 25"},
		{"commas", strings.ReplaceAll(valid, " ", ", "), "word 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed, err := MnemonicSeed(tt.mnemonic)
			if !errors.Is(err, ErrInvalidMnemonic) {
				t.Fatalf("err = %v, want ErrInvalidMnemonic", err)
			}
			if seed != nil {
				t.Error("seed returned with error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "abandon") || strings.Contains(err.Error(), "shardrive") {
				t.Errorf("error %q leaks a word", err)
			}
		})
	}
}

func FuzzNormalizeMnemonic(f *testing.F) {
	f.Add(strings.Repeat("abandon ", 23) + "art")
	f.Add(strings.Repeat("zoo ", 23) + "vote")
	f.Add(strings.Repeat("zoo ", 24))
	f.Add("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about")
	f.Add("")
	f.Fuzz(func(t *testing.T, m string) {
		norm, err := NormalizeMnemonic(m)
		if err != nil {
			if !errors.Is(err, ErrInvalidMnemonic) {
				t.Fatalf("error does not wrap ErrInvalidMnemonic: %v", err)
			}
			return
		}
		// A valid mnemonic is stable under normalisation.
		again, err := NormalizeMnemonic(norm)
		if err != nil || again != norm {
			t.Fatalf("normalisation not idempotent: %q -> %q, %v", norm, again, err)
		}
	})
}
