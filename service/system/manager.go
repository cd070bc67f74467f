package system

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	kservice "github.com/kardianos/service"
)

// ErrNoManager: this machine runs no service manager the binaries can
// install into (a container, usually).
var ErrNoManager = errors.New("this machine runs no service manager")

// State is what the service manager says of an installed service.
type State string

const (
	Running      State = "running"
	Stopped      State = "stopped"
	NotInstalled State = "not installed"
	Failed       State = "failed"
)

// Manager installs and controls one unit.
type Manager struct {
	unit Unit
	svc  kservice.Service
}

// noProgram is the library's service body, which it wants even to install:
// the binaries run their daemons themselves (in the foreground, with
// their own signal handling), so it is never run.
type noProgram struct{}

func (noProgram) Start(kservice.Service) error { return nil }
func (noProgram) Stop(kservice.Service) error  { return nil }

// New returns the manager of u, or ErrNoManager.
func New(u Unit) (*Manager, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	if err := available(); err != nil {
		return nil, err
	}
	opts := kservice.KeyValue{
		"UserService": u.User,
		"RunAtLoad":   true, // launchd: start at login or boot, like WantedBy
		"KeepAlive":   true,
	}
	if usesSystemd {
		text, err := u.Systemd()
		if err != nil {
			return nil, err
		}
		opts["SystemdScript"] = text
	}
	cfg := &kservice.Config{
		Name:        u.Name,
		DisplayName: u.Name,
		Description: u.Description,
		Executable:  u.Exec,
		Arguments:   u.Args,
		UserName:    u.RunAs,
		Option:      opts,
	}
	svc, err := kservice.New(noProgram{}, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoManager, err)
	}
	return &Manager{unit: u, svc: svc}, nil
}

// Platform names the service manager in use, such as "linux-systemd".
func (m *Manager) Platform() string { return m.svc.Platform() }

// InstallAndStart installs the unit (Install) and starts the service, or
// restarts it if it was running, so that it runs the unit just written.
func (m *Manager) InstallAndStart() error {
	wasRunning, err := m.Install()
	if err != nil {
		return err
	}
	if wasRunning {
		return m.Restart()
	}
	return m.Start()
}

// Install writes the unit and enables it, replacing a different unit of
// the same name (stopping it first). It reports whether the service ran
// before, so that the caller can start or restart it.
func (m *Manager) Install() (wasRunning bool, err error) {
	st, err := m.Status()
	if err != nil {
		return false, err
	}
	if st != NotInstalled {
		if same, err := m.sameUnit(); err == nil && same {
			return st == Running, nil
		}
		if st == Running {
			if err := m.svc.Stop(); err != nil {
				return false, fmt.Errorf("stop the installed %s: %w", m.unit.Name, err)
			}
		}
		if err := m.svc.Uninstall(); err != nil {
			return false, fmt.Errorf("replace the installed %s: %w", m.unit.Name, err)
		}
	}
	if err := m.svc.Install(); err != nil {
		return false, fmt.Errorf("install %s: %w", m.unit.Name, err)
	}
	return st == Running, nil
}

// sameUnit reports whether the unit file on disk is the one Install writes.
func (m *Manager) sameUnit() (bool, error) {
	if !usesSystemd {
		return false, nil
	}
	path, err := unitPath(m.unit)
	if err != nil {
		return false, err
	}
	have, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	want, err := m.unit.Systemd()
	return bytes.Equal(have, []byte(want)), err
}

// Uninstall stops the service and removes it.
func (m *Manager) Uninstall() error {
	st, err := m.Status()
	if err != nil {
		return err
	}
	if st == NotInstalled {
		return fmt.Errorf("%s is not installed", m.unit.Name)
	}
	if st == Running {
		if err := m.svc.Stop(); err != nil {
			return fmt.Errorf("stop %s: %w", m.unit.Name, err)
		}
	}
	if err := m.svc.Uninstall(); err != nil {
		return fmt.Errorf("uninstall %s: %w", m.unit.Name, err)
	}
	return nil
}

// Start starts the installed service.
func (m *Manager) Start() error {
	if err := m.svc.Start(); err != nil {
		return fmt.Errorf("start %s: %w", m.unit.Name, err)
	}
	return nil
}

// Restart stops and starts the installed service.
func (m *Manager) Restart() error {
	if err := m.svc.Restart(); err != nil {
		return fmt.Errorf("restart %s: %w", m.unit.Name, err)
	}
	return nil
}

// Stop stops the service; it stays installed (and starts again at the next
// login or boot).
func (m *Manager) Stop() error {
	if err := m.svc.Stop(); err != nil {
		return fmt.Errorf("stop %s: %w", m.unit.Name, err)
	}
	return nil
}

// Status asks the manager about the service.
func (m *Manager) Status() (State, error) {
	st, err := m.svc.Status()
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return NotInstalled, nil
	case err != nil && st == kservice.StatusUnknown && strings.Contains(err.Error(), "failed state"):
		return Failed, nil
	case err != nil:
		return "", fmt.Errorf("status of %s: %w", m.unit.Name, err)
	case st == kservice.StatusRunning:
		return Running, nil
	case st == kservice.StatusStopped:
		return Stopped, nil
	}
	return "", fmt.Errorf("status of %s: unknown", m.unit.Name)
}
