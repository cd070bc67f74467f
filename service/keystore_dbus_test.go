//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

package service

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/shardrive/shardrive/core/crypto"
)

// TestKeyStoreNoSessionBus: without a session bus the keys go to the file,
// and a home whose keys are in the keyring says what to do.
func TestKeyStoreNoSessionBus(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	if keyringReachable() == nil {
		t.Skipf("this user has a session bus in /run/user/%d", os.Getuid())
	}
	h := Home{State: t.TempDir()}
	s := testKeyStore()
	place, err := s.Save(h, crypto.NewTestKeys(t, "no bus"))
	if err != nil {
		t.Fatal(err)
	}
	if place.Entry != "" || !errors.Is(place.NoKeyring, errNoSessionBus) {
		t.Fatalf("save without a bus: %+v", place)
	}
	if !strings.Contains(place.String(), "no usable OS keyring") {
		t.Errorf("place %q does not say the keyring was not used", place)
	}
	if _, err := s.Load(h); err != nil {
		t.Fatal(err)
	}

	rec := marshalKeysRecord(keyringService, "home-0123")
	if err := os.WriteFile(h.KeysPath(), rec, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(h)
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "gnome-keyring-daemon --unlock") {
		t.Fatalf("keys in an unreachable keyring: %v", err)
	}
	if err := s.Delete(h); !errors.Is(err, ErrKeyringUnavailable) {
		t.Fatalf("delete with an unreachable keyring: %v", err)
	}
	if _, err := os.Stat(h.KeysPath()); err != nil {
		t.Fatalf("the record went although its entry could not be deleted: %v", err)
	}
}

// TestKeyStoreKeyring runs the key store on a real Secret Service: a
// private D-Bus session bus and an unlocked gnome-keyring-daemon on it.
func TestKeyStoreKeyring(t *testing.T) {
	startTestKeyring(t)
	s := testKeyStore()
	keys := crypto.NewTestKeys(t, "keyring")
	kb, err := keys.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := Home{State: t.TempDir()}

	place, err := s.Save(h, keys)
	if err != nil {
		t.Fatal(err)
	}
	if place.Entry == "" {
		t.Fatalf("keys not in the keyring: %v", place.NoKeyring)
	}
	t.Logf("saved %s", place)
	rec, err := os.ReadFile(h.KeysPath())
	if err != nil {
		t.Fatal(err)
	}
	if svc, entry, err := parseKeysRecord(rec); err != nil || svc != keyringService || entry != place.Entry {
		t.Fatalf("keys file is not the record of %s: %q (%v)", place.Entry, rec, err)
	}
	if fi, err := os.Stat(h.KeysPath()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record mode: %v, %v", fi.Mode(), err)
	}
	secret, err := keyring.Get(keyringService, place.Entry)
	if err != nil || secret != base64.StdEncoding.EncodeToString(kb) {
		t.Fatalf("keyring entry: %v", err)
	}
	got, err := s.Load(h)
	if err != nil {
		t.Fatal(err)
	}
	if !sameKeys(t, got, keys) {
		t.Fatal("loaded other keys")
	}

	// Saving again (a new drive in the home) drops the old entry.
	place2, err := s.Save(h, crypto.NewTestKeys(t, "keyring 2"))
	if err != nil || place2.Entry == "" || place2.Entry == place.Entry {
		t.Fatalf("second save: %+v, %v", place2, err)
	}
	if _, err := keyring.Get(keyringService, place.Entry); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("old entry after a new save: %v", err)
	}

	if err := s.Delete(h); err != nil {
		t.Fatal(err)
	}
	if _, err := keyring.Get(keyringService, place2.Entry); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("entry after delete: %v", err)
	}
	if _, err := os.Stat(h.KeysPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("keys file after delete: %v", err)
	}

	// FileOnly keeps them out of the keyring even though it answers.
	fileOnly := s
	fileOnly.FileOnly = true
	if place, err := fileOnly.Save(h, keys); err != nil || place.Entry != "" || place.NoKeyring != nil {
		t.Fatalf("FileOnly with a keyring: %+v, %v", place, err)
	}
	if b, _ := os.ReadFile(h.KeysPath()); !bytes.Equal(b, kb) {
		t.Fatal("FileOnly did not write the keys file")
	}
	if err := s.Delete(h); err != nil {
		t.Fatal(err)
	}

	// An entry gone from the keyring is an error naming the fix.
	place, err = s.Save(h, keys)
	if err != nil || place.Entry == "" {
		t.Fatalf("save: %+v, %v", place, err)
	}
	if err := keyring.Delete(keyringService, place.Entry); err != nil {
		t.Fatal(err)
	}
	_, err = s.Load(h)
	if !errors.Is(err, ErrKeysMissing) || !strings.Contains(err.Error(), "init --recover") {
		t.Fatalf("entry deleted behind our back: %v", err)
	}
	if err := s.Delete(h); err != nil {
		t.Fatalf("delete with the entry gone: %v", err)
	}

	// A damaged secret is ErrBadKeys, not keys.
	place, err = s.Save(h, keys)
	if err != nil || place.Entry == "" {
		t.Fatalf("save: %+v, %v", place, err)
	}
	if err := keyring.Set(keyringService, place.Entry, base64.StdEncoding.EncodeToString(kb[:200])); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(h); !errors.Is(err, ErrBadKeys) {
		t.Fatalf("damaged secret: %v", err)
	}

	// Locked (nobody to answer the unlock prompt): Load and Delete say how
	// to unlock it, a new Save falls back to the file. Last: nothing
	// unlocks the keyring again.
	place, err = s.Save(h, keys)
	if err != nil || place.Entry == "" {
		t.Fatalf("save: %+v, %v", place, err)
	}
	lockTestKeyring(t)
	_, err = s.Load(h)
	if !errors.Is(err, ErrKeyringUnavailable) || !strings.Contains(err.Error(), "gnome-keyring-daemon --unlock") ||
		!strings.Contains(err.Error(), place.Entry) {
		t.Fatalf("locked keyring: %v", err)
	}
	t.Logf("locked keyring at start: %v", err)
	if err := s.Delete(h); !errors.Is(err, ErrKeyringUnavailable) {
		t.Fatalf("delete from a locked keyring: %v", err)
	}
	h2 := Home{State: t.TempDir()}
	place, err = s.Save(h2, keys)
	if err != nil || place.Entry != "" || place.NoKeyring == nil {
		t.Fatalf("save to a locked keyring: %+v, %v", place, err)
	}
	if got, err := s.Load(h2); err != nil || !sameKeys(t, got, keys) {
		t.Fatalf("load the fallback file: %v", err)
	}
}

// startTestKeyring starts a private session bus and an unlocked
// gnome-keyring-daemon on it, points this process at it and stops both at
// cleanup. The bus has no service directories: nothing is activated on it
// (no prompter either, so a locked keyring fails at once).
func startTestKeyring(t *testing.T) {
	needKeyringTools(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`, filepath.Join(dir, "bus")), 0o600); err != nil {
		t.Fatal(err)
	}
	bus := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	out, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var busErr bytes.Buffer
	bus.Stderr = &busErr
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Process.Kill(); bus.Wait() })
	// dbus-daemon prints its address once it listens.
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v: %s", err, busErr.String())
	}
	addr = strings.TrimSpace(addr)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)

	run, data := filepath.Join(dir, "run"), filepath.Join(dir, "data")
	for _, d := range []string{run, data} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	gk := exec.Command("gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets")
	gk.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+addr, "XDG_RUNTIME_DIR="+run, "XDG_DATA_HOME="+data, "HOME="+dir)
	// --unlock reads the login keyring's password on stdin (creating the
	// keyring with it) up to EOF.
	gk.Stdin = strings.NewReader("test password")
	var gkOut bytes.Buffer
	gk.Stdout, gk.Stderr = &gkOut, &gkOut
	if err := gk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gk.Process.Kill(); gk.Wait() })
	// Ready once it owns org.freedesktop.secrets and has the login keyring
	// (asking the bus, which activates nothing).
	for i := 0; ; i++ {
		o, _ := busSend(addr, "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets")
		if strings.Contains(o, "boolean true") {
			break
		}
		if i == 200 {
			t.Fatalf("gnome-keyring-daemon did not come up on the test bus: %s", gkOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockTestKeyring locks the login collection of the test keyring.
func lockTestKeyring(t *testing.T) {
	t.Helper()
	if out, err := busSend(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "--dest=org.freedesktop.secrets", "/org/freedesktop/secrets",
		"org.freedesktop.Secret.Service.Lock", "array:objpath:/org/freedesktop/secrets/collection/login"); err != nil {
		t.Fatalf("lock the keyring: %v: %s", err, out)
	}
}

func busSend(addr string, args ...string) (string, error) {
	out, err := exec.Command("dbus-send", append([]string{"--bus=" + addr, "--print-reply"}, args...)...).CombinedOutput()
	return string(out), err
}

// needKeyringTools installs gnome-keyring and dbus when missing, as
// scripts/deps.sh installs the test tools (root, apt-get, without
// recommends: libpam-gnome-keyring would change the machine's PAM set-up),
// and skips the test, saying why, only when that is impossible.
func needKeyringTools(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"gnome-keyring-daemon", "dbus-daemon", "dbus-send"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getuid() != 0 {
		t.Skipf("needs %s: apt-get install gnome-keyring dbus (not root: cannot install them here)", strings.Join(missing, ", "))
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skipf("needs %s and there is no apt-get to install gnome-keyring and dbus with", strings.Join(missing, ", "))
	}
	install := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=120", "gnome-keyring", "dbus")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	out, err := install()
	if err != nil {
		// Stale package lists: fetch them once and try again.
		if u, uerr := exec.Command("apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=120").CombinedOutput(); uerr != nil {
			t.Skipf("needs %s; apt-get update failed: %v: %s", strings.Join(missing, ", "), uerr, u)
		}
		out, err = install()
	}
	if err != nil {
		t.Skipf("needs %s; apt-get install gnome-keyring dbus failed: %v: %s", strings.Join(missing, ", "), err, out)
	}
	t.Logf("installed gnome-keyring and dbus for the keyring test")
}
