package system

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/shardrive/shardrive/service/system/systemdtest"
)

func TestUserUnit(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	u := Unit{Name: "shardrive-test", Description: "Shardrive test drive", Exec: exe,
		Args: []string{"daemon", "--config", "/home/a b/c\"d$e%f\\g"}, User: true, Network: true,
		NoRestart: []int{7, 2, 3}, StopTimeoutSec: 120}
	text, err := u.Systemd()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nWantedBy=default.target\n",
		"\nExecStart=" + exe + ` daemon --config "/home/a b/c\"d$$e%%f\\g"` + "\n",
		"\nRestartPreventExitStatus=2 3 7\n",
		"\nTimeoutStopSec=120\n",
		"\nRestart=on-failure\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("user unit lacks %q:\n%s", want, text)
		}
	}
	for _, not := range []string{"multi-user.target", "network-online.target", "User=", "StateDirectory", "NoNewPrivileges"} {
		if strings.Contains(text, not) {
			t.Errorf("user unit has %q:\n%s", not, text)
		}
	}
	systemdtest.Verify(t, u.Name, text, true)
}

func TestSystemUnit(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	u := Unit{Name: "shardfarmer-test", Description: "Shardrive farmer", Exec: exe,
		Args: []string{"run", "--dir", "/var/lib/shardfarmer"}, DynamicUser: true, StateDir: "shardfarmer",
		Sandbox: true, Network: true, NoRestart: []int{2, 3}}
	text, err := u.Systemd()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nWantedBy=multi-user.target\n", "\nStateDirectory=shardfarmer\n", "\nDynamicUser=yes\n",
		"\nAfter=network-online.target\n", "\nProtectSystem=strict\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("system unit lacks %q:\n%s", want, text)
		}
	}
	systemdtest.Verify(t, u.Name, text, false)

	u = Unit{Name: "shardfarmer-test2", Description: "Shardrive farmer", Exec: exe, Args: []string{"run"},
		RunAs: "farm", ReadWrite: []string{"/srv/farm"}, Sandbox: true}
	text, err = u.Systemd()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "\nUser=farm\n") || !strings.Contains(text, "\nReadWritePaths=/srv/farm\n") {
		t.Errorf("unit:\n%s", text)
	}
	systemdtest.Verify(t, u.Name, text, false)
}

func TestUnitValidate(t *testing.T) {
	ok := Unit{Name: "x", Exec: "/bin/x"}
	for name, u := range map[string]Unit{
		"no name":         {Exec: "/bin/x"},
		"name with space": {Name: "a b", Exec: "/bin/x"},
		"relative exec":   {Name: "x", Exec: "bin/x"},
		"newline arg":     {Name: "x", Exec: "/bin/x", Args: []string{"a\nb"}},
		"template arg":    {Name: "x", Exec: "/bin/x", Args: []string{"{{Path}}"}},
		"user with state": {Name: "x", Exec: "/bin/x", User: true, StateDir: "x"},
		"absolute state":  {Name: "x", Exec: "/bin/x", StateDir: "/var/lib/x"},
		"escaping state":  {Name: "x", Exec: "/bin/x", StateDir: "../x"},
		"runas and dyn":   {Name: "x", Exec: "/bin/x", RunAs: "a", DynamicUser: true},
		"spaced rw path":  {Name: "x", Exec: "/bin/x", ReadWrite: []string{"/a b"}},
	} {
		if _, err := u.Systemd(); !errors.Is(err, ErrBadUnit) {
			t.Errorf("%s: %v, want ErrBadUnit", name, err)
		}
	}
	if _, err := ok.Systemd(); err != nil {
		t.Error(err)
	}
}

// TestNoManager: where no systemd runs (this container), every operation
// says so.
func TestNoManager(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("only Linux may lack a service manager")
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here")
	}
	exe, _ := os.Executable()
	if _, err := New(Unit{Name: "x", Exec: exe, User: true}); !errors.Is(err, ErrNoManager) {
		t.Fatalf("New: %v, want ErrNoManager", err)
	}
}
