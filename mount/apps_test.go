//go:build linux

package mount

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestApps runs ordinary programs on the mount, as users do: git, sqlite3
// in WAL mode, tar, rsync, python. A program that is not installed is
// skipped (scripts/deps.sh installs them for `make test`).
func TestApps(t *testing.T) {
	mnt, _, _ := mountTest(t)
	run := func(t *testing.T, dir string, name string, args ...string) string {
		t.Helper()
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s is not installed", name)
		}
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid", "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	src := t.TempDir() // a small source tree to copy around
	for i, content := range []string{"package a\n", strings.Repeat("x", 300<<10), "#!/bin/sh\necho hi\n"} {
		p := filepath.Join(src, "dir", []string{"a.go", "big.bin", "run.sh"}[i])
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "dir", "run.sh"), 0o755)
	os.Symlink("a.go", filepath.Join(src, "dir", "link"))

	t.Run("git", func(t *testing.T) {
		repo := t.TempDir()
		run(t, repo, "git", "init", "-q")
		run(t, repo, "git", "-c", "core.fsync=all", "add", "-A")
		os.WriteFile(filepath.Join(repo, "f.txt"), []byte("one\n"), 0o644)
		run(t, repo, "git", "add", "f.txt")
		run(t, repo, "git", "commit", "-qm", "one")
		run(t, mnt, "git", "clone", "-q", repo, "clone")
		clone := filepath.Join(mnt, "clone")
		os.WriteFile(filepath.Join(clone, "f.txt"), []byte("two\n"), 0o644)
		if out := run(t, clone, "git", "status", "--porcelain"); !strings.Contains(out, "M f.txt") {
			t.Fatalf("git status = %q", out)
		}
		run(t, clone, "git", "commit", "-qam", "two")
		run(t, clone, "git", "gc", "-q")
		run(t, clone, "git", "fsck", "--strict")
		if out := run(t, clone, "git", "log", "--oneline"); strings.Count(out, "\n") != 2 {
			t.Fatalf("git log = %q", out)
		}
	})
	t.Run("sqlite3 WAL", func(t *testing.T) {
		db := filepath.Join(mnt, "app.db")
		run(t, mnt, "sqlite3", db, "PRAGMA journal_mode=WAL; CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT);")
		for i := range 5 {
			run(t, mnt, "sqlite3", db, "BEGIN; INSERT INTO t(v) SELECT hex(randomblob(200)) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200) SELECT x FROM c); COMMIT;")
			_ = i
		}
		if out := run(t, mnt, "sqlite3", db, "PRAGMA integrity_check; SELECT count(*) FROM t;"); out != "ok\n1000\n" {
			t.Fatalf("sqlite3 = %q", out)
		}
	})
	t.Run("tar", func(t *testing.T) {
		tarball := filepath.Join(t.TempDir(), "src.tar")
		run(t, src, "tar", "-cf", tarball, "dir")
		dst := filepath.Join(mnt, "untar")
		os.Mkdir(dst, 0o755)
		run(t, dst, "tar", "-xf", tarball)
		run(t, "/", "diff", "-r", "--no-dereference", filepath.Join(src, "dir"), filepath.Join(dst, "dir"))
	})
	t.Run("rsync", func(t *testing.T) {
		run(t, "/", "rsync", "-a", src+"/", filepath.Join(mnt, "rs")+"/")
		run(t, "/", "rsync", "-a", "--checksum", src+"/", filepath.Join(mnt, "rs")+"/") // again: nothing to do
		run(t, "/", "diff", "-r", "--no-dereference", src, filepath.Join(mnt, "rs"))
	})
	t.Run("python", func(t *testing.T) {
		p := filepath.Join(mnt, "py.txt")
		run(t, mnt, "python3", "-c", `
import os, sys
p = sys.argv[1]
with open(p, "w") as f:
    f.write("hello\n" * 1000); f.flush(); os.fsync(f.fileno())
with open(p + ".tmp", "w") as f:
    f.write("replaced\n")
os.replace(p + ".tmp", p)
assert open(p).read() == "replaced\n"
`, p)
	})
	t.Run("getfattr status", func(t *testing.T) {
		os.WriteFile(filepath.Join(mnt, "st.txt"), []byte("x"), 0o644)
		// Nothing uploads in this test: the file stays local.
		if out := run(t, mnt, "getfattr", "--only-values", "-n", "user.shardrive.status", "st.txt"); out != "local" {
			t.Fatalf("getfattr = %q, want local", out)
		}
	})
}

// vimBinary is a vim with +eval (vim-tiny lacks it), or "".
func vimBinary() string {
	p, err := exec.LookPath("vim")
	if err != nil {
		return ""
	}
	if out, err := exec.Command(p, "--version").Output(); err != nil || !strings.Contains(string(out), "+eval") {
		return ""
	}
	return p
}

// TestVim edits a file with vim on the mount and the same file in a local
// directory, with each of vim's write strategies, and compares the two
// directories after every step: names (backup and swap files included),
// modes, link counts, contents, a user xattr, and whether the write
// replaced the file (a new inode) or rewrote it in place.
func TestVim(t *testing.T) {
	vim := vimBinary()
	if vim == "" {
		t.Skip("vim with +eval is not installed (scripts/deps.sh installs it)")
	}
	mnt, _, _ := mountTest(t)
	local := t.TempDir()
	if err := syscall.Setxattr(local, "user.probe", []byte("x"), 0); err != nil {
		t.Skipf("the local file system has no user xattrs: %v", err)
	}
	syscall.Removexattr(local, "user.probe")
	roots := []string{filepath.Join(mnt, "vim"), filepath.Join(local, "vim")}
	for _, r := range roots {
		if err := os.Mkdir(r, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(r, "f"), []byte("one\ntwo\nthree\n"))
		if err := os.Chmod(filepath.Join(r, "f"), 0o640); err != nil {
			t.Fatal(err)
		}
		// Carried over to the new file by vim's rename strategy.
		if err := syscall.Setxattr(filepath.Join(r, "f"), "user.k", []byte("kept"), 0); err != nil {
			t.Fatal(err)
		}
	}
	// -u NONE: no vimrc; bsk= because 'backupskip' skips /tmp/*, where the
	// test directories are, and would turn backups off.
	base := []string{"-u", "NONE", "-i", "NONE", "-N", "-es", "-c", "set bsk="}
	steps := []struct {
		name    string
		args    []string
		replace bool   // on a local disk the write gives f a new inode
		crash   bool   // vim kills itself
		remove  string // a file to remove after the step, as the user would
	}{
		{"default (writebackup, rename)", []string{"-c", "normal Gofour", "-c", "wq", "f"}, true, false, ""},
		{"backupcopy=no, backup kept", []string{"-c", "set bkc=no backup", "-c", "normal Gofive", "-c", "wq", "f"}, true, false, ""},
		{"backupcopy=yes, backup .bak", []string{"-c", "set bkc=yes backup bex=.bak", "-c", "2d", "-c", "wq", "f"}, false, false, ""},
		{"nowritebackup", []string{"-c", "set nowritebackup nobackup", "-c", "%s/e/E/g", "-c", "wq", "f"}, false, false, ""},
		{"new file", []string{"-c", `call setline(1, ["new", "file"])`, "-c", "wq", "new.txt"}, false, false, ""},
		{"swap file while editing", []string{"-c", "normal Goswap", "-c", "preserve",
			"-c", `call writefile([fnamemodify(swapname("%"), ":t"), filereadable(swapname("%"))], "swapinfo")`, "-c", "q!", "f"}, false, false, ""},
		{"crash with a swap file", []string{"-c", "normal Gocrashed", "-c", "preserve", "-c", `call system("kill -9 " . getpid())`, "f"}, false, true, ""},
		{"recover from the swap file", []string{"-r", "-c", "wq", "f"}, true, false, ".f.swp"},
		{"ex", []string{"-c", "1d", "-c", "x", "f"}, true, false, ""},
	}
	for _, s := range steps {
		var replaced []bool
		for _, r := range roots {
			before := stat(t, filepath.Join(r, "f")).Ino
			cmd := exec.Command(vim, append(slices.Clone(base), s.args...)...)
			if s.name == "ex" {
				cmd.Args[0] = "ex" // vim in Ex mode, as when run as ex
			}
			cmd.Dir = r
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if s.crash {
				if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("%s in %s: want vim killed, got %v\n%s", s.name, r, err, out)
				}
			} else if err != nil {
				t.Fatalf("%s in %s: %v\n%s", s.name, r, err, out)
			}
			replaced = append(replaced, stat(t, filepath.Join(r, "f")).Ino != before)
		}
		if replaced[1] != s.replace {
			t.Fatalf("%s: vim replaced the local file: %v, expected %v (another vim version?)", s.name, replaced[1], s.replace)
		}
		if replaced[0] != replaced[1] {
			t.Errorf("%s: vim replaced the file on the mount: %v, locally: %v", s.name, replaced[0], replaced[1])
		}
		compareVimDirs(t, s.name, roots[0], roots[1])
		if s.remove != "" {
			for _, r := range roots {
				if err := os.Remove(filepath.Join(r, s.remove)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	got := read(t, filepath.Join(roots[0], "f"))
	if want := "thrEE\nfour\nfivE\ncrashed\n"; string(got) != want {
		t.Errorf("final file %q, want %q", got, want)
	}
	if m := stat(t, filepath.Join(roots[0], "f")).Mode; m != syscall.S_IFREG|0o640 {
		t.Errorf("final mode %o, want the 640 the file had before vim replaced it", m)
	}
	if info := read(t, filepath.Join(roots[0], "swapinfo")); string(info) != ".f.swp\n1\n" {
		t.Errorf("vim's swap file while editing: %q, want .f.swp present", info)
	}
}

// compareVimDirs compares two directories as compareTrees does, except the
// contents of swap files, which hold the file's full path and vim's pid.
func compareVimDirs(t *testing.T, step, mnt, local string) {
	t.Helper()
	got, want := snapshotTree(t, mnt), snapshotTree(t, local)
	for name, w := range want {
		g, ok := got[name]
		if strings.HasSuffix(name, ".swp") {
			g.content, w.content = "", ""
		}
		switch {
		case !ok:
			t.Errorf("%s: %s: on the local disk, missing on the mount", step, name)
		case g != w:
			t.Errorf("%s: %s: mount mode %o size %d nlink %d xattr %q; local mode %o size %d nlink %d xattr %q; contents equal: %v",
				step, name, g.mode, g.size, g.nlink, g.xattr, w.mode, w.size, w.nlink, w.xattr, g.content == w.content)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: %s: on the mount, not on the local disk", step, name)
		}
	}
}

// officeBinary finds LibreOffice. It is large (about 260 MB installed), so
// scripts/deps.sh installs it only when asked (--long); under SHARDRIVE_LONG
// this test asks.
func officeBinary(t *testing.T) string {
	t.Helper()
	look := func() string {
		for _, name := range []string{"soffice", "libreoffice"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := look(); p != "" {
		return p
	}
	if os.Getenv("SHARDRIVE_LONG") == "" {
		t.Skip("LibreOffice is not installed (about 260 MB): scripts/deps.sh --long installs it, as this test does under SHARDRIVE_LONG=1")
	}
	if out, err := exec.Command("../scripts/deps.sh", "--long").CombinedOutput(); err != nil {
		t.Fatalf("scripts/deps.sh --long: %v\n%s", err, out)
	}
	p := look()
	if p == "" {
		t.Fatal("scripts/deps.sh --long did not install LibreOffice")
	}
	return p
}

// TestOffice converts documents with headless LibreOffice, reading and
// writing on the mount: text to ODT, ODT to PDF, and ODT to DOCX and back,
// whose text must come back as written.
func TestOffice(t *testing.T) {
	soffice := officeBinary(t)
	mnt, _, _ := mountTest(t)
	dir := filepath.Join(mnt, "office")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A private profile and HOME: it runs as root, with no terminal.
	profile, home := t.TempDir(), t.TempDir()
	convert := func(to, outdir, src string) {
		t.Helper()
		cmd := exec.Command(soffice, "--headless", "--norestore", "-env:UserInstallation=file://"+profile,
			"--convert-to", to, "--outdir", outdir, src)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "convert ") {
			t.Fatalf("convert %s to %s: %v\n%s", src, to, err, out)
		}
	}
	text := "Shardrive on LibreOffice, ü é ß\nsecond paragraph\n\n" + strings.Repeat("filler text ", 500) + "\nlast line\n"
	write(t, filepath.Join(dir, "doc.txt"), []byte(text))
	convert("odt", dir, filepath.Join(dir, "doc.txt"))
	convert("pdf", dir, filepath.Join(dir, "doc.odt"))
	pdf := read(t, filepath.Join(dir, "doc.pdf"))
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 2000 || !bytes.Contains(pdf[max(0, len(pdf)-64):], []byte("%%EOF")) {
		t.Fatalf("doc.pdf: %d bytes starting %q: not a whole PDF", len(pdf), head(pdf))
	}

	convert("docx", dir, filepath.Join(dir, "doc.odt"))
	back := filepath.Join(dir, "back")
	if err := os.Mkdir(back, 0o755); err != nil {
		t.Fatal(err)
	}
	convert("odt", back, filepath.Join(dir, "doc.docx"))
	convert("txt:Text (encoded):UTF8", back, filepath.Join(back, "doc.odt"))
	got := bytes.TrimPrefix(read(t, filepath.Join(back, "doc.txt")), []byte("\xef\xbb\xbf"))
	if string(got) != text {
		t.Fatalf("text after txt -> odt -> docx -> odt -> txt: %q, want %q", head(got), head([]byte(text)))
	}
	t.Logf("doc.odt %d bytes, doc.pdf %d, doc.docx %d", stat(t, filepath.Join(dir, "doc.odt")).Size, len(pdf), stat(t, filepath.Join(dir, "doc.docx")).Size)
	// LibreOffice's lock files (.~lock.NAME#) go when it closes a document.
	for _, d := range []string{dir, back} {
		names, err := filepath.Glob(filepath.Join(d, ".~lock.*"))
		if err != nil || len(names) != 0 {
			t.Errorf("lock files left behind: %v %v", names, err)
		}
	}
}
