//go:build !linux

package system

import (
	"errors"

	kservice "github.com/kardianos/service"
)

// usesSystemd: elsewhere the library writes its own service files
// (launchd plists, Windows services).
const usesSystemd = false

// available reports whether the library found the platform's manager.
func available() error {
	if kservice.ChosenSystem() == nil {
		return ErrNoManager
	}
	return nil
}

func unitPath(Unit) (string, error) { return "", errors.ErrUnsupported }
