// Package system installs the Shardrive binaries as services of the
// operating system's service manager (github.com/kardianos/service): the
// drive's daemon as a per-user service that starts at login, the farmer as
// a system service with a state directory of its own.
//
// On Linux the manager is systemd, and the unit text is written here rather
// than taken from the library, whose template is wrong for us: it makes
// every unit, user units too, wanted by multi-user.target (a target the
// user manager does not have, so the service would never start at login),
// restarts on every exit, even the ones that mean "fix the setup first",
// and gives a network daemon no sandbox. Unit.Systemd returns the text, so
// that tests can run `systemd-analyze verify` on it and packages can ship
// the same units.
//
// A machine without a service manager (a container, usually: no
// /run/systemd/system) gets ErrNoManager from every operation, so that the
// commands can point to running the daemon in the foreground instead.
package system
