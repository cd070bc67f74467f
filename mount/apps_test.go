package mount

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
