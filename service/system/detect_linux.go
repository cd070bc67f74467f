package system

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	kservice "github.com/kardianos/service"
)

// usesSystemd: on Linux the units are systemd's, written by Unit.Systemd.
const usesSystemd = true

// systemdRunning is where systemd says it is the running init
// (sd_booted(3)).
const systemdRunning = "/run/systemd/system"

// available picks systemd, the one Linux manager the units are written
// for, or says there is none: the library would fall back to System V
// init scripts on a machine whose init is not systemd (a container).
func available() error {
	if fi, err := os.Stat(systemdRunning); err != nil || !fi.IsDir() {
		return fmt.Errorf("%w (no %s: a container?)", ErrNoManager, systemdRunning)
	}
	for _, s := range kservice.AvailableSystems() {
		if s.String() == "linux-systemd" {
			kservice.ChooseSystem(s)
			return nil
		}
	}
	return fmt.Errorf("%w: the service library does not offer systemd", ErrNoManager)
}

// unitPath is where the library writes u's unit file.
func unitPath(u Unit) (string, error) {
	if !u.User {
		return filepath.Join("/etc/systemd/system", u.Name+".service"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		cu, uerr := user.Current()
		if uerr != nil {
			return "", err
		}
		home = cu.HomeDir
	}
	return filepath.Join(home, ".config/systemd/user", u.Name+".service"), nil
}
