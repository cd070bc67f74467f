package installer

import (
	"strings"

	"github.com/shardrive/shardrive/service/system"
)

// Where the packages put things.
const (
	DriveBinary    = "/usr/bin/shardrive"
	FarmerBinary   = "/usr/bin/shardfarmer"
	FarmerStateDir = "/var/lib/shardfarmer"
	// DriveUnitPath holds the drive's user unit: every user's systemd
	// --user reads it, and `systemctl --user enable shardrive` (or
	// `shardrive setup`) turns it on for one user.
	DriveUnitPath = "/usr/lib/systemd/user/shardrive.service"
	// FarmerUnitPath is /lib/systemd/system on merged-/usr Debian; the
	// /usr spelling also works where /lib is a real directory.
	FarmerUnitPath = "/usr/lib/systemd/system/shardfarmer.service"
)

// Exit codes after which restarting cannot help, for the units'
// RestartPreventExitStatus (the exit code tables of cmd/shardrive and
// cmd/shardfarmer).
var (
	driveNoRestart  = []int{2, 3, 7, 10} // usage, wrong key, no drive, another device
	farmerNoRestart = []int{2, 3}        // usage (flags, DIR/config), unusable data directory
)

// The units are the ones `shardrive service unit` and `shardfarmer service
// unit` print for the packaged binaries; the package test holds them to it.

// DriveUnit is the drive's per-user service: `shardrive daemon` at login,
// reading the user's configuration file.
func DriveUnit() system.Unit {
	return system.Unit{
		Name:        "shardrive",
		Description: "Shardrive drive: mounts the drive and uploads in the background",
		Exec:        DriveBinary,
		Args:        []string{"daemon"},
		User:        true,
		NoRestart:   driveNoRestart,
	}
}

// FarmerUnit is the farmer's system service, as a made-up user that owns
// only its state directory; its settings are in FarmerStateDir/config.
func FarmerUnit() system.Unit {
	return system.Unit{
		Name:        "shardfarmer",
		Description: "Shardrive storage farmer",
		Exec:        FarmerBinary,
		Args:        []string{"run", "--dir", FarmerStateDir},
		DynamicUser: true,
		StateDir:    strings.TrimPrefix(FarmerStateDir, "/var/lib/"),
		Sandbox:     true,
		Network:     true,
		NoRestart:   farmerNoRestart,
	}
}

// packagedUnit renders u for a package: service/system heads its text with
// a note meant for units that `service install` writes, which is replaced
// here by one that says how to change a packaged unit.
func packagedUnit(u system.Unit, pkg string) (string, error) {
	text, err := u.Systemd()
	if err != nil {
		return "", err
	}
	for strings.HasPrefix(text, "#") {
		_, text, _ = strings.Cut(text, "\n")
	}
	edit := "systemctl edit " + u.Name
	if u.User {
		edit = "systemctl --user edit " + u.Name
	}
	return "# Installed by the " + pkg + " package; change it with `" + edit + "`.\n" + text, nil
}
