// Package systemdtest checks systemd unit text in tests, with the
// systemd-analyze tool where the machine has it.
package systemdtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Verify checks unit text with `systemd-analyze verify` (as a user
// unit with user) and fails tb on any complaint, warnings included: the
// tool only warns about unknown settings. Without the tool it skips, saying
// what to install.
func Verify(tb testing.TB, name, text string, user bool) {
	tb.Helper()
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		tb.Skip("systemd-analyze not found (apt-get install systemd): unit not verified")
	}
	dir := tb.TempDir()
	path := filepath.Join(dir, name+".service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	args := []string{"verify", path}
	cmd := exec.Command(tool, args...)
	if user {
		// The user manager wants a runtime directory even to verify.
		rt := filepath.Join(dir, "run")
		if err := os.Mkdir(rt, 0o700); err != nil {
			tb.Fatal(err)
		}
		cmd = exec.Command(tool, append([]string{"--user"}, args...)...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		tb.Fatalf("systemd-analyze verify %s: %v\n%s\nunit:\n%s", name, err, out.String(), text)
	}
}
