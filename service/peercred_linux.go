package service

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerUID returns the uid of the process on the other end of c, from the
// kernel (SO_PEERCRED): what it was when it connected, not what it claims.
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("%w: %T is not a Unix socket", errNoCred, c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errNoCred, err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("%w: %w", errNoCred, err)
	}
	if cerr != nil {
		return 0, fmt.Errorf("%w: %w", errNoCred, cerr)
	}
	return cred.Uid, nil
}
