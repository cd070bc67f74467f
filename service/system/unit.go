package system

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Unit describes a service.
type Unit struct {
	// Name is the service's name (NAME.service on systemd): letters,
	// digits, dashes, dots and underscores.
	Name        string
	Description string
	// Exec is the absolute path of the binary; Args its arguments.
	Exec string
	Args []string
	// User: a per-user service (systemd --user, a launchd agent), started
	// when the user logs in. Otherwise a system service, started at boot.
	User bool
	// RunAs is the account a system service runs as; "" with DynamicUser
	// or for root.
	RunAs string
	// DynamicUser (system services only): run as an account systemd makes
	// up for the service, which owns only its StateDir.
	DynamicUser bool
	// StateDir (system services only) is the service's state directory
	// under /var/lib (systemd StateDirectory=), made 0700 for it.
	StateDir string
	// ReadWrite are paths a sandboxed service may write besides StateDir.
	ReadWrite []string
	// Sandbox confines a system service: a read-only system, no home
	// directories, no privilege gain, Internet and Unix sockets only.
	// Never for the drive: FUSE mounts need the setuid fusermount3.
	Sandbox bool
	// Network: start once the network is up (system services; a user
	// manager has no such target).
	Network bool
	// NoRestart are exit codes that mean "fix the setup first": the
	// manager does not restart the service after them.
	NoRestart []int
	// StopTimeout bounds a clean stop before the manager kills the
	// service; 0 keeps the manager's default.
	StopTimeoutSec int
}

// ErrBadUnit marks a unit that cannot be written.
var ErrBadUnit = errors.New("bad service unit")

// Validate reports what cannot go into a unit.
func (u Unit) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadUnit, u.Name, fmt.Sprintf(format, args...))
	}
	if u.Name == "" || strings.Trim(u.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != "" {
		return bad("name: letters, digits, dashes, dots and underscores")
	}
	if !filepath.IsAbs(u.Exec) {
		return bad("binary %q is not an absolute path", u.Exec)
	}
	if u.User && (u.RunAs != "" || u.DynamicUser || u.StateDir != "" || u.Sandbox || len(u.ReadWrite) > 0) {
		return bad("a user service runs as its user, without a state directory or sandbox")
	}
	if u.RunAs != "" && u.DynamicUser {
		return bad("RunAs and DynamicUser exclude each other")
	}
	for _, s := range append([]string{u.Description, u.Exec}, u.Args...) {
		if strings.ContainsAny(s, "\n\r\x00") || strings.Contains(s, "{{") {
			return bad("%q has a newline, NUL or {{", s)
		}
	}
	for _, s := range append([]string{u.RunAs, u.StateDir}, u.ReadWrite...) {
		if strings.ContainsAny(s, " \t\n\r\x00\"'\\$%{}") {
			return bad("%q: blanks, quotes, $, %% and braces are not allowed here", s)
		}
	}
	if u.StateDir != "" && (filepath.IsAbs(u.StateDir) || filepath.Clean(u.StateDir) != u.StateDir || strings.HasPrefix(u.StateDir, "..")) {
		return bad("state directory %q must be a clean path relative to /var/lib", u.StateDir)
	}
	for _, p := range u.ReadWrite {
		if !filepath.IsAbs(p) {
			return bad("writable path %q is not absolute", p)
		}
	}
	return nil
}

// Systemd returns the systemd unit file of u.
func (u Unit) Systemd() (string, error) {
	if err := u.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by %s service install; the next install replaces it.", filepath.Base(u.Exec))
	line("[Unit]")
	line("Description=%s", u.Description)
	if u.Network && !u.User {
		line("Wants=network-online.target")
		line("After=network-online.target")
	}
	line("")
	line("[Service]")
	line("Type=simple")
	cmd := []string{quoteExec(u.Exec)}
	for _, a := range u.Args {
		cmd = append(cmd, quoteExec(a))
	}
	line("ExecStart=%s", strings.Join(cmd, " "))
	if u.RunAs != "" {
		line("User=%s", u.RunAs)
	}
	if u.DynamicUser {
		line("DynamicUser=yes")
	}
	if u.StateDir != "" {
		line("StateDirectory=%s", u.StateDir)
		line("StateDirectoryMode=0700")
	}
	line("Restart=on-failure")
	line("RestartSec=10")
	if len(u.NoRestart) > 0 {
		codes := slices.Clone(u.NoRestart)
		slices.Sort(codes)
		var s []string
		for _, c := range codes {
			s = append(s, strconv.Itoa(c))
		}
		line("RestartPreventExitStatus=%s", strings.Join(s, " "))
	}
	if u.StopTimeoutSec > 0 {
		line("TimeoutStopSec=%d", u.StopTimeoutSec)
	}
	if u.Sandbox {
		line("NoNewPrivileges=yes")
		line("ProtectSystem=strict")
		line("ProtectHome=yes")
		line("PrivateTmp=yes")
		line("PrivateDevices=yes")
		line("ProtectKernelTunables=yes")
		line("ProtectKernelModules=yes")
		line("ProtectControlGroups=yes")
		line("RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX")
		line("LockPersonality=yes")
		line("UMask=0077")
	}
	if len(u.ReadWrite) > 0 {
		line("ReadWritePaths=%s", strings.Join(u.ReadWrite, " "))
	}
	line("")
	line("[Install]")
	if u.User {
		line("WantedBy=default.target")
	} else {
		line("WantedBy=multi-user.target")
	}
	return b.String(), nil
}

// quoteExec quotes one word of ExecStart= the way systemd splits it:
// double quotes around anything but plain characters, backslash escapes
// inside them, % and $ doubled so that neither specifiers nor variables
// are expanded.
func quoteExec(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	plain := s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == ""
	if plain {
		return s
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	s = strings.ReplaceAll(s, "$", "$$")
	return `"` + s + `"`
}
