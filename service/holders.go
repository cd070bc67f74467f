package service

import (
	"fmt"
	"github.com/shardrive/shardrive/mount"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Holder is a process that keeps a mount busy.
type Holder struct {
	PID  int
	Comm string // its command name
	How  string // "cwd", "root", "fd" or "map"
}

func (h Holder) String() string { return fmt.Sprintf("pid %d (%s, %s)", h.PID, h.Comm, h.How) }

// maxHolders bounds the list: enough to act on.
const maxHolders = 8

// Holders lists processes whose working directory, root, open files or
// memory maps are under dir, as far as /proc shows them (other users'
// processes only to root). Reading /proc never enters the mount, so this
// cannot hang on it.
func Holders(dir string) []Holder {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	under := func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	var out []Holder
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		base := filepath.Join("/proc", e.Name())
		how := ""
		for _, l := range []string{"cwd", "root"} {
			if p, err := os.Readlink(filepath.Join(base, l)); err == nil && under(p) {
				how = l
				break
			}
		}
		if how == "" {
			if fds, err := os.ReadDir(filepath.Join(base, "fd")); err == nil {
				for _, fd := range fds {
					if p, err := os.Readlink(filepath.Join(base, "fd", fd.Name())); err == nil && under(p) {
						how = "fd"
						break
					}
				}
			}
		}
		if how == "" {
			if maps, err := os.ReadFile(filepath.Join(base, "maps")); err == nil && mapsUnder(string(maps), dir) {
				how = "map"
			}
		}
		if how == "" {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(base, "comm"))
		out = append(out, Holder{PID: pid, Comm: strings.TrimSpace(string(comm)), How: how})
		if len(out) == maxHolders {
			break
		}
	}
	return out
}

// mapsUnder reports whether a /proc/PID/maps table maps a file under dir.
func mapsUnder(maps, dir string) bool {
	for _, line := range strings.Split(maps, "\n") {
		if i := strings.Index(line, " /"); i >= 0 {
			p := strings.TrimSuffix(line[i+1:], " (deleted)")
			if p == dir || strings.HasPrefix(p, dir+"/") {
				return true
			}
		}
	}
	return false
}

// describeHolders says who keeps dir busy, for an error message.
func describeHolders(dir string) string {
	hs := Holders(dir)
	if len(hs) == 0 {
		return "no process found holding it (it may belong to another user)"
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.String()
	}
	return "held by " + strings.Join(parts, ", ")
}

// ClearStaleMount unmounts dir if it is a FUSE mount whose server died
// (kill -9 of a daemon leaves one: every request fails with ENOTCONN). A
// live mount, or no mount, is left alone; cleared reports whether one was
// removed. statfs, unlike stat, is never answered from the kernel's
// attribute cache, so it sees a dead server at once.
func ClearStaleMount(dir string) (cleared bool, err error) {
	if !IsDeadMount(dir) {
		return false, nil
	}
	return true, ForceUnmount(dir, true)
}

// ForceUnmount unmounts dir from outside its server with the first tool
// found of fusermount3 -u, fusermount -u and umount; lazily (-z / -l) if
// lazy.
func ForceUnmount(dir string, lazy bool) error {
	tries := [][]string{{"fusermount3", "-u"}, {"fusermount", "-u"}, {"umount"}}
	if lazy {
		tries = [][]string{{"fusermount3", "-u", "-z"}, {"fusermount", "-u", "-z"}, {"umount", "-l"}}
	}
	for _, t := range tries {
		path, err := exec.LookPath(t[0])
		if err != nil {
			continue
		}
		out, err := exec.Command(path, append(t[1:], dir)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("unmount %s: %s: %w: %s", dir, t[0], err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return fmt.Errorf("unmount %s: none of fusermount3, fusermount, umount found", dir)
}

// IsMountPoint reports whether dir (absolute, without symlinks) is a mount
// point; the mount package owns reading the kernel's table.
func IsMountPoint(dir string) (bool, error) { return mount.IsMountPoint(dir) }
