package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardrive/shardrive/service/system/systemdtest"
)

// TestFarmerConfigFile: run reads DIR/config, flags override it, and
// mistakes are refused with their line.
func TestFarmerConfigFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "farm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(configPath(dir), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# test farmer\nversion = 1\nlisten = 127.0.0.1:0\nadvertise = farm.example:7001\ncapacity = 30MiB\nlog-level = warn\n")
	code, out, errOut := runCmd("run", "--dir", dir, "--check")
	if code != exitOK || !strings.Contains(out, "listen 127.0.0.1:0") || !strings.Contains(out, `advertise "farm.example:7001"`) ||
		!strings.Contains(out, "capacity 30 MiB") {
		t.Fatalf("run --check with a config: exit %d, %q %q", code, out, errOut)
	}
	code, out, _ = runCmd("run", "--dir", dir, "--check", "--capacity", "5GiB")
	if code != exitOK || !strings.Contains(out, "capacity 5.0 GiB") {
		t.Fatalf("a flag does not override the config: exit %d, %q", code, out)
	}
	// A real run serves with the file's settings.
	p := startRun(t, "--dir", dir)
	if p.addr.Host != "farm.example:7001" {
		t.Errorf("farmer advertises %s, want the config's", p.addr.Host)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(p.stderr.String(), "level=INFO") {
		t.Errorf("log-level = warn from the config not applied:\n%s", p.stderr)
	}

	for _, tc := range []struct{ name, file, msg string }{
		{"unknown key", "version = 1\ncapacty = 1GiB\n", `config:2: unknown key "capacty"`},
		{"dir is no key", "version = 1\ndir = /x\n", `config:2: unknown key "dir"`},
		{"bad size", "version = 1\n\ncapacity = lots\n", "config: " + configPath(dir) + ":3"},
		{"no version", "capacity = 1GiB\n", "first setting must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.file)
			code, _, errOut := runCmd("run", "--dir", dir, "--check")
			if code != exitUsage || !strings.Contains(errOut, tc.msg) {
				t.Fatalf("exit %d %q, want %d with %q", code, errOut, exitUsage, tc.msg)
			}
		})
	}
}

// TestFarmerServiceSetup: install's preparation writes the flags given
// into a commented config that run reads back; the unit passes
// systemd-analyze; without a service manager, exit 5 in one line.
func TestFarmerServiceSetup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	// No service manager runs here: install writes the config all the
	// same, and says in one line to run the farmer in the foreground.
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("a service manager runs here: not for a test to install into")
	}
	code, out, errOut := runCmd("service", "install", "--dir", dir, "--listen", ":7001", "--advertise", "farm.example:7001",
		"--capacity", "2TiB", "--log-format", "json", "--run-as", "farm")
	if code != exitNoManager || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "shardfarmer run --dir "+dir) {
		t.Fatalf("install without a service manager: exit %d, %q %q; want %d and one line", code, out, errOut, exitNoManager)
	}
	b, err := os.ReadFile(configPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"\nlisten = :7001\n", "\nadvertise = farm.example:7001\n", "\ncapacity = 2TiB\n",
		"\nlog-format = json\n", "\n#account-quota = 0\n", "\nversion = 1\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "run-as") || strings.Contains(text, "\ndir") {
		t.Errorf("config holds keys run does not take:\n%s", text)
	}
	if fi, _ := os.Stat(configPath(dir)); fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v", fi.Mode().Perm())
	}
	code, out, errOut = runCmd("run", "--dir", dir, "--check")
	if code != exitOK || !strings.Contains(out, "listen :7001") || !strings.Contains(out, "capacity 2.0 TiB") {
		t.Fatalf("run --check on the written config: %d %q %q", code, out, errOut)
	}

	opts := &ServiceOptions{Run: RunOptions{Dir: "/var/lib/shardfarmer"}}
	u, err := opts.unit()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := u.Systemd()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nStateDirectory=shardfarmer\n", "\nDynamicUser=yes\n", "\nWantedBy=multi-user.target\n",
		" run --dir /var/lib/shardfarmer\n", "\nRestartPreventExitStatus=2 3\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	systemdtest.Verify(t, u.Name, unit, false)
}
