package service

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/crypto"
)

func testKeyStore() KeyStore {
	s := NewKeyStore()
	s.Timeout = 30 * time.Second
	return s
}

// sameKeys compares two key sets by their encoding.
func sameKeys(tb testing.TB, a, b *crypto.Keys) bool {
	tb.Helper()
	ab, err := a.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	bb, err := b.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Equal(ab, bb)
}

func TestKeyStoreFile(t *testing.T) {
	h := Home{State: t.TempDir()}
	keys := crypto.NewTestKeys(t, "file")
	s := testKeyStore()
	s.FileOnly = true
	place, err := s.Save(h, keys)
	if err != nil {
		t.Fatal(err)
	}
	if place.Entry != "" || place.NoKeyring != nil || place.File != h.KeysPath() {
		t.Fatalf("FileOnly save: %+v", place)
	}
	fi, err := os.Stat(h.KeysPath())
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("keys file mode %04o, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(h.KeysPath())
	if err != nil {
		t.Fatal(err)
	}
	// The file is the crypto keys file, as homes made before the keyring
	// hold it: those keep loading.
	if want, _ := keys.MarshalBinary(); !bytes.Equal(b, want) {
		t.Fatalf("keys file is not the crypto keys file")
	}
	got, err := s.Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if !sameKeys(t, got, keys) {
		t.Fatal("loaded other keys")
	}
	// The default store loads it too: Load follows the file.
	if got, err := testKeyStore().Load(h); err != nil || !sameKeys(t, got, keys) {
		t.Fatalf("default store: %v", err)
	}

	if err := s.Delete(h); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(h); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("load after delete: %v, want not exist", err)
	}
	if err := s.Delete(h); err != nil {
		t.Fatalf("delete without keys: %v", err)
	}
}

func TestKeyStoreFileExposed(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	h := Home{State: t.TempDir()}
	s := testKeyStore()
	s.FileOnly = true
	if _, err := s.Save(h, crypto.NewTestKeys(t, "exposed")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.KeysPath(), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := s.Load(h)
	if !errors.Is(err, ErrKeysExposed) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable keys: %v, want ErrKeysExposed naming the fix", err)
	}
}

func TestKeyStoreFileDamaged(t *testing.T) {
	keys, err := crypto.NewTestKeys(t, "damaged").MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(keys)
	flipped[50] ^= 1
	v2 := bytes.Clone(keys)
	v2[8] = 2
	record := "shardrive-keyring 1\nservice shardrive\nentry home-00112233445566778899aabbccddeeff\n"
	for _, tc := range []struct {
		name, data, msg string
	}{
		{"empty", "", "shorter than"},
		{"truncated keys", string(keys[:100]), "want 201 bytes"},
		{"keys plus a byte", string(keys) + "x", "want 201 bytes"},
		{"flipped bit", string(flipped), "checksum"},
		{"keys version 2", string(v2), "want version 1, have 2"},
		{"garbage", "hello, world\n", "bad magic"},
		{"too big", strings.Repeat("x", keysFileMax+1), "larger than"},
		{"truncated record", record[:len(record)-10], "want 3 lines"},
		{"record without newline", strings.TrimSuffix(record, "\n"), "want 3 lines"},
		{"record version 2", strings.Replace(record, " 1\n", " 2\n", 1), "want version 1, have 2"},
		{"record version 01", strings.Replace(record, " 1\n", " 01\n", 1), "version \"01\""},
		{"record bad entry", strings.Replace(record, "home-0011", "../home-0011", 1), "entry line"},
		{"record upper case entry", strings.Replace(record, "aabb", "AABB", 1), "entry line"},
		{"record empty service", strings.Replace(record, "service shardrive", "service ", 1), "service line"},
		{"record lines swapped", "shardrive-keyring 1\nentry home-1\nservice shardrive\n", "service line"},
		{"record extra line", record + "more\n", "want 3 lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Home{State: t.TempDir()}
			if err := os.WriteFile(h.KeysPath(), []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := testKeyStore().Load(h)
			if !errors.Is(err, ErrBadKeys) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v; want ErrBadKeys saying %q", err, tc.msg)
			}
		})
	}
}

func TestKeysRecord(t *testing.T) {
	b := marshalKeysRecord("shardrive", "home-00ff")
	if string(b) != "shardrive-keyring 1\nservice shardrive\nentry home-00ff\n" {
		t.Fatalf("record %q", b)
	}
	svc, entry, err := parseKeysRecord(b)
	if err != nil || svc != "shardrive" || entry != "home-00ff" {
		t.Fatalf("parse: %q %q %v", svc, entry, err)
	}
	if validKeyringName(strings.Repeat("a", keyringNameMax+1)) || !validKeyringName(strings.Repeat("a", keyringNameMax)) {
		t.Error("name length bound")
	}
}

func FuzzParseKeysRecord(f *testing.F) {
	f.Add([]byte("shardrive-keyring 1\nservice shardrive\nentry home-00112233445566778899aabbccddeeff\n"))
	f.Add([]byte("shardrive-keyring 2\nservice s\nentry e\n"))
	f.Add([]byte("shardrive-keyring 1\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		svc, entry, err := parseKeysRecord(b)
		if err != nil {
			if !errors.Is(err, ErrBadKeys) {
				t.Fatalf("error %v is not ErrBadKeys", err)
			}
			return
		}
		if !validKeyringName(svc) || !validKeyringName(entry) {
			t.Fatalf("accepted %q %q", svc, entry)
		}
		if out := marshalKeysRecord(svc, entry); !bytes.Equal(out, b) {
			t.Fatalf("round trip: %q became %q", b, out)
		}
	})
}
