//go:build !((dragonfly && cgo) || (freebsd && cgo) || linux || netbsd || openbsd)

package service

import "runtime"

// keyringKind names the OS keyring for messages; keyringFix says how to
// make one that did not answer answer.
var keyringKind, keyringFix = keyringNames(runtime.GOOS)

func keyringNames(goos string) (kind, fix string) {
	switch goos {
	case "darwin":
		return "macOS Keychain", "Unlock the login keychain (security unlock-keychain) as the user who set the drive up"
	case "windows":
		return "Windows Credential Manager", "Log in as the user who set the drive up (the Credential Manager is per user)"
	}
	return "OS keyring", "This system has no keyring Shardrive can use: rebuild the home from the 24 words with --keys-file"
}

// keyringReachable: the keyring library answers for itself here (where it
// has no backend it says so at once).
func keyringReachable() error { return nil }
