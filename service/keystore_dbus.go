//go:build (dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd

package service

import (
	"errors"
	"fmt"
	"os"
)

// The build constraint is go-keyring's for its Secret Service backend.

// keyringKind names the OS keyring for messages.
const keyringKind = "Secret Service"

// keyringFix says how to make a keyring that did not answer answer.
const keyringFix = "Unlock the login keyring (log in to the desktop session, or run gnome-keyring-daemon --unlock " +
	"in this session) and run shardrive where its D-Bus session bus is reachable (a user service, or " +
	"DBUS_SESSION_BUS_ADDRESS set)"

// errNoSessionBus: no D-Bus session bus to find a Secret Service on.
var errNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and there is no /run/user/UID/bus)")

// keyringReachable says whether a session bus is known. Without one the
// D-Bus library would run dbus-launch, which starts a stray bus for every
// call; asking it then is pointless, so the answer is no.
func keyringReachable() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	// Where the D-Bus library looks next (godbus tryDiscoverDbusSessionBusAddress).
	run := fmt.Sprintf("/run/user/%d/", os.Getuid())
	for _, name := range []string{"bus", "dbus-session"} {
		if _, err := os.Stat(run + name); err == nil {
			return nil
		}
	}
	return errNoSessionBus
}
