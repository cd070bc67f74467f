//go:build linux

package mount

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"bazil.org/fuse"

	"github.com/shardrive/shardrive/drive"
)

// A drive switched to read-only (the writer lease went to another device)
// answers EROFS, whatever the reason wraps, and its files stay readable.
func TestReadOnlySwitchAnswersEROFS(t *testing.T) {
	// The reason may wrap an error with an errno of its own: EROFS wins.
	reason := fmt.Errorf("writer lease lost to another device: %w", drive.ErrPermission)
	if e, known := errno(fmt.Errorf("mkdir: %w", fmt.Errorf("%w: %w", drive.ErrReadOnly, reason))); !known || e != fuse.Errno(syscall.EROFS) {
		t.Fatalf("errno of a read-only refusal: %v (known %v)", e, known)
	}

	dir, d, _ := mountTest(t)
	p := filepath.Join(dir, "f")
	write(t, p, []byte("kept"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	d.SetReadOnly(reason)

	// echo x > f, from a shell and as the shell does it.
	cmd := exec.Command("sh", "-c", "echo x > f")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Read-only file system") {
		t.Fatalf("echo x > f: %v: %s", err, out)
	}
	_, err := syscall.Open(p, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_TRUNC, 0o666)
	isErrno(t, "open O_TRUNC", err, syscall.EROFS)
	_, err = syscall.Open(filepath.Join(dir, "new"), syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL, 0o666)
	isErrno(t, "create", err, syscall.EROFS)
	isErrno(t, "mkdir", os.Mkdir(filepath.Join(dir, "new"), 0o755), syscall.EROFS)
	isErrno(t, "unlink", syscall.Unlink(p), syscall.EROFS)
	isErrno(t, "rmdir", syscall.Rmdir(filepath.Join(dir, "sub")), syscall.EROFS)
	isErrno(t, "rename", syscall.Rename(p, filepath.Join(dir, "g")), syscall.EROFS)
	isErrno(t, "chmod", syscall.Chmod(p, 0o600), syscall.EROFS)
	isErrno(t, "truncate", syscall.Truncate(p, 0), syscall.EROFS)

	equal(t, "read after the refusals", read(t, p), []byte("kept"))
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 2 {
		t.Fatalf("readdir: %v, %v", ents, err)
	}
	if st := stat(t, p); st.Mode&0o777 != 0o644 || st.Size != 4 {
		t.Fatalf("f: mode %o, size %d", st.Mode&0o777, st.Size)
	}
}
