//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shardrive/shardrive/service"
	"github.com/shardrive/shardrive/service/system/systemdtest"
)

// These tests run the CLI the way the service does: settings from a
// configuration file, the control socket in a runtime directory, the
// daemon in the foreground (`shardrive daemon`).

// userEnv is a user's environment, private to one test: XDG directories
// under dir (the config, state and cache ones, and the runtime one, 0700),
// and no SHARDRIVE_HOME.
type userEnv struct {
	config, runtime string
	home            string // the home the config names, once set
	vars            []string
}

func newUserEnv(t *testing.T) userEnv {
	t.Helper()
	dir := t.TempDir()
	e := userEnv{config: filepath.Join(dir, "config"), runtime: filepath.Join(dir, "run")}
	if err := os.Mkdir(e.runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, v := range os.Environ() {
		if !strings.HasPrefix(v, "SHARDRIVE_HOME=") && !strings.HasPrefix(v, "XDG_") {
			e.vars = append(e.vars, v)
		}
	}
	e.vars = append(e.vars, "XDG_CONFIG_HOME="+e.config, "XDG_RUNTIME_DIR="+e.runtime,
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	return e
}

// run runs the CLI in e, with no --home: the configuration file names it.
func (e userEnv) run(t *testing.T, extra []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "shardrive"), args...)
	cmd.Env = append(append([]string(nil), e.vars...), extra...)
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	r := result{stdout: o.String(), stderr: er.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run shardrive %v: %v", args, err)
	}
	return r
}

func (e userEnv) must(t *testing.T, args ...string) string {
	t.Helper()
	r := e.run(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("shardrive %v: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

func (e userEnv) configPath() string { return filepath.Join(e.config, "shardrive", "config") }

func (e userEnv) writeConfig(t *testing.T, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(e.configPath()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.configPath(), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// showRow returns the value and source `config show` prints for key.
func showRow(t *testing.T, out, key string) (value, from string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == key {
			return f[1], strings.Join(f[2:], " ")
		}
	}
	t.Fatalf("config show has no %s:\n%s", key, out)
	return "", ""
}

func TestConfigFile(t *testing.T) {
	e := newUserEnv(t)
	home := filepath.Join(t.TempDir(), "home")

	// No file: defaults, and no error.
	out := e.must(t, "config", "show")
	if !strings.Contains(out, "config file: "+e.configPath()+" (not found: defaults only)") {
		t.Errorf("config show without a file:\n%s", out)
	}
	if v, from := showRow(t, out, "write-back"); v != "3s" || from != "default" {
		t.Errorf("write-back %s from %s", v, from)
	}

	// config init writes a commented file that sets what was given.
	e.must(t, "--home", home, "config", "init", "--mount", "~/Drive", "--cache-max-size", "2GiB", "--write-back", "1m")
	b, err := os.ReadFile(e.configPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nversion = 1\n", "\nhome = " + home + "\n", "\nmount = ~/Drive\n", "\ncache-max-size = 2GiB\n",
		"\nwrite-back = 1m0s\n", "\n#backup-delay = 5s\n", "\n#read-only = false\n"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("config init wrote no %q:\n%s", want, b)
		}
	}
	if r := e.run(t, nil, "config", "init"); r.code != exitError || !strings.Contains(r.stderr, "--force") {
		t.Errorf("config init over a file: exit %d %q", r.code, r.stderr)
	}

	// Every source: the file, a flag over it, the environment over its home.
	userHome, _ := os.UserHomeDir()
	out = e.must(t, "config", "show", "--write-back", "10s")
	for _, tc := range []struct{ key, value, from string }{
		{"home", home, "config " + e.configPath() + ":"},
		{"mount", filepath.Join(userHome, "Drive"), "config " + e.configPath() + ":"},
		{"cache-max-size", "2GiB", "config"},
		{"write-back", "10s", "flag --write-back"},
		{"backup-delay", "5s", "default"},
	} {
		v, from := showRow(t, out, tc.key)
		if v != tc.value || !strings.HasPrefix(from, tc.from) {
			t.Errorf("%s = %s from %q, want %s from %q...", tc.key, v, from, tc.value, tc.from)
		}
	}
	other := t.TempDir()
	out = e.run(t, []string{"SHARDRIVE_HOME=" + other}, "config", "show").stdout
	if v, from := showRow(t, out, "home"); v != other || from != "env SHARDRIVE_HOME" {
		t.Errorf("with SHARDRIVE_HOME: home %s from %s", v, from)
	}
	if v, from := showRow(t, e.must(t, "--home", other, "config", "show"), "home"); v != other || from != "flag --home" {
		t.Errorf("with --home: home %s from %s", v, from)
	}
	// The file's home is every command's: status reads the drive there.
	if r := e.run(t, nil, "status"); r.code != exitNoDrive || !strings.Contains(r.stderr, home) {
		t.Errorf("status with the config's home and no drive: exit %d %q, want %d naming %s", r.code, r.stderr, exitNoDrive, home)
	}

	// Mistakes are refused by every command, naming the line.
	for _, tc := range []struct{ name, text, msg string }{
		{"unknown key", "version = 1\nmount = /m\nmout = /m\n", `:3: unknown key "mout"`},
		{"no version", "mount = /m\n", `:1: the first setting must be "version = 1"`},
		{"version 2", "version = 2\n", ":1: version want 1, have 2"},
		{"relative path", "version = 1\n\nhome = drive\n", `:3: home: "drive" is not an absolute path`},
		{"bad size", "version = 1\ncache-max-size = big\n", ":2: cache-max-size:"},
		{"bad duration", "version = 1\nwrite-back = soon\n", ":2: write-back:"},
		{"bad bool", "version = 1\nread-only = maybe\n", ":2: read-only:"},
		{"metrics off loopback", "version = 1\nmetrics = 0.0.0.0:9100\n", ":2: metrics:"},
		{"twice", "version = 1\nmount = /a\nmount = /b\n", ":3: mount set twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writeConfig(t, tc.text)
			for _, args := range [][]string{{"status"}, {"config", "show"}, {"ls", "/"}} {
				r := e.run(t, nil, args...)
				if r.code != exitUsage || !strings.Contains(r.stderr, e.configPath()+tc.msg) || strings.Count(r.stderr, "\n") != 1 {
					t.Fatalf("%v: exit %d %q, want %d with %q", args, r.code, r.stderr, exitUsage, e.configPath()+tc.msg)
				}
			}
		})
	}
	e.writeConfig(t, "version = 1\n")
	os.Chmod(e.configPath(), 0o666)
	if r := e.run(t, nil, "config", "show"); r.code != exitUsage || !strings.Contains(r.stderr, "chmod go-w") {
		t.Errorf("a config others may write: exit %d %q", r.code, r.stderr)
	}
	if r := e.run(t, nil, "--config", filepath.Join(t.TempDir(), "none"), "config", "show"); r.code != exitUsage {
		t.Errorf("--config naming no file: exit %d %q", r.code, r.stderr)
	}
}

func TestServiceCommand(t *testing.T) {
	e := newUserEnv(t)
	cfg := filepath.Join(t.TempDir(), "my config")
	home := filepath.Join(t.TempDir(), "home")
	e.writeConfig(t, "version = 1\nmount = /mnt/drive\n")
	if err := os.WriteFile(cfg, []byte("version = 1\nmount = /mnt/drive\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The user unit runs the daemon, with the config and home named
	// explicitly here (the service finds the defaults itself).
	unit := e.must(t, "--config", cfg, "--home", home, "service", "unit")
	exe, _ := filepath.EvalSymlinks(filepath.Join(binDir, "shardrive"))
	if want := "\nExecStart=" + exe + ` daemon --config "` + cfg + `" --home ` + home + "\n"; !strings.Contains(unit, want) {
		t.Errorf("user unit lacks %q:\n%s", want, unit)
	}
	if !strings.Contains(unit, "\nWantedBy=default.target\n") || strings.Contains(unit, "multi-user") {
		t.Errorf("user unit is not wanted by default.target alone:\n%s", unit)
	}
	if !strings.Contains(unit, "\nRestartPreventExitStatus=2 3 7 10\n") {
		t.Errorf("user unit restarts after setup failures:\n%s", unit)
	}
	systemdtest.Verify(t, "shardrive", unit, true)
	unit = e.must(t, "service", "unit")
	if !strings.Contains(unit, "\nExecStart="+exe+" daemon\n") {
		t.Errorf("default user unit:\n%s", unit)
	}
	sys := e.must(t, "service", "unit", "--system", "--run-as", "alice")
	if !strings.Contains(sys, "\nUser=alice\n") || !strings.Contains(sys, "\nWantedBy=multi-user.target\n") {
		t.Errorf("system unit:\n%s", sys)
	}
	systemdtest.Verify(t, "shardrive-alice", sys, false)
	if r := e.run(t, nil, "service", "unit", "--user", "--system"); r.code != exitUsage {
		t.Errorf("--user --system: exit %d", r.code)
	}

	if _, err := os.Stat("/run/systemd/system"); err == nil {
		return // a real service manager: not for a test to install into
	}
	for _, sub := range []string{"install", "uninstall", "start", "stop", "status"} {
		r := e.run(t, nil, "service", sub)
		if r.code != exitNoManager || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "shardrive daemon") {
			t.Errorf("service %s without a service manager: exit %d %q %q; want %d, one line naming shardrive daemon",
				sub, r.code, r.stdout, r.stderr, exitNoManager)
		}
	}
}

// daemonProc is `shardrive daemon` running in a user environment.
type daemonProc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startDaemon starts `shardrive daemon` in e and waits until it answers
// on its control socket. It is killed (and its mount undone) when the test
// ends if it still runs.
func startDaemon(t *testing.T, e userEnv, mnt string, args ...string) *daemonProc {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "daemon-*.log")
	if err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{log: logf.Name(), done: make(chan struct{})}
	d.cmd = exec.Command(filepath.Join(binDir, "shardrive"), append([]string{"daemon"}, args...)...)
	d.cmd.Env = e.vars
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); logf.Close(); close(d.done) }()
	t.Cleanup(func() {
		if isMountPoint(t, mnt) {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
		d.cmd.Process.Kill()
		<-d.done
		if log := d.logText(); strings.Contains(log, "DATA RACE") || strings.Contains(log, "panic:") {
			t.Errorf("the daemon log shows a race or a panic:\n%s", log)
		}
	})
	// Until the socket accepts (asking status sooner would read the home
	// itself, holding it from the starting daemon): a bound only so that a
	// broken daemon fails the test instead of hanging it.
	sock := service.Home{State: e.home, Runtime: e.runtime}.SocketPath()
	for range 1200 {
		select {
		case <-d.done:
			t.Fatalf("daemon exited %v before answering:\n%s", d.cmd.ProcessState, d.logText())
		default:
		}
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			if st := envStatus(t, e); st.Daemon == nil || st.Daemon.PID != d.cmd.Process.Pid {
				t.Fatalf("status answers for %+v, want pid %d", st.Daemon, d.cmd.Process.Pid)
			}
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("daemon not answering after a minute:\n%s", d.logText())
	return nil
}

func (d *daemonProc) logText() string {
	b, _ := os.ReadFile(d.log)
	return string(b)
}

func envStatus(t *testing.T, e userEnv) service.Status {
	t.Helper()
	var st service.Status
	if err := json.Unmarshal([]byte(e.must(t, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDaemonFromConfig runs the daemon as the service would: settings from
// the configuration file, the socket in the runtime directory. Pause stops
// the network traffic (reads of blocks not cached fail, sync refuses) while
// writes keep landing; a kill -9 while paused loses nothing, and the next
// daemon (never paused) uploads it all.
func TestDaemonFromConfig(t *testing.T) {
	requireFUSE(t)
	home, _ := network(t, 6, 4, 2, "1MiB")
	e := newUserEnv(t)
	e.home = home
	mnt := filepath.Join(t.TempDir(), "not yet", "Drive") // the daemon makes it
	e.writeConfig(t, "# test\nversion = 1\nhome = "+home+"\nmount = "+mnt+"\ncache-max-size = 1GiB\nwrite-back = 200ms\nmetrics = 127.0.0.1:0\n")

	d := startDaemon(t, e, mnt)
	st := envStatus(t, e)
	if st.Daemon == nil || st.Daemon.MountDir != mnt || st.Daemon.Paused || st.Cache.MaxBytes != 1<<30 {
		t.Fatalf("status %+v %+v, want the daemon on %s with the config's cache limit", st.Daemon, st.Cache, mnt)
	}
	if !strings.Contains(d.logText(), "daemon started") {
		t.Errorf("the daemon does not log at info level to stderr:\n%s", d.logText())
	}
	// The socket is in the runtime directory, private; none in the home.
	socks, _ := filepath.Glob(filepath.Join(e.runtime, "shardrive", "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("sockets in the runtime dir: %v", socks)
	}
	if fi, err := os.Stat(socks[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v %v, want 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Dir(socks[0])); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket dir %v %v, want 0700", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(home, "control.sock")); !os.IsNotExist(err) {
		t.Errorf("a socket in the home too: %v", err)
	}

	stored := randomBytes(3<<20 + 5)
	writeSynced(t, filepath.Join(mnt, "stored.bin"), stored)
	e.must(t, "sync", "--wait", "--timeout", "5m")
	if m := scrapeDaemon(t, d); m["shardrive_uploaded_bytes_total"] < 3<<20 || m["shardrive_upload_queue_files"] != 0 ||
		m["shardrive_paused"] != 0 || m["shardrive_read_only"] != 0 || m["shardrive_cache_blocks"] < 4 ||
		countPrefix(m, "shardrive_farmer_errors_total{farmer=") != 6 || m["shardrive_backup_version"] < 1 {
		t.Fatalf("metrics after a synced write: %v", m)
	}
	if dropped, _ := cacheClearIn(t, e); dropped < 4 {
		t.Fatalf("cache clear dropped %d blocks", dropped)
	}

	// Paused: nothing goes out, reads of uncached blocks fail at once,
	// writes land and stay queued.
	if out := e.must(t, "pause"); !strings.HasPrefix(out, "paused") {
		t.Errorf("pause printed %q", out)
	}
	if out := e.must(t, "pause"); out != "already paused\n" {
		t.Errorf("second pause printed %q", out)
	}
	if st := envStatus(t, e); st.Daemon == nil || !st.Daemon.Paused {
		t.Fatalf("status after pause: %+v", st.Daemon)
	}
	if _, err := os.ReadFile(filepath.Join(mnt, "stored.bin")); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read of an uncached file while paused: %v, want EIO", err)
	}
	if !strings.Contains(d.logText(), "network traffic is paused") {
		t.Errorf("the failed read is not logged with its reason:\n%s", d.logText())
	}
	queued := map[string][]byte{"late/a.bin": randomBytes(2<<20 + 1), "late/b.txt": randomBytes(300)}
	for name, data := range queued {
		writeSynced(t, filepath.Join(mnt, name), data)
	}
	if r := e.run(t, nil, "sync", "--wait"); r.code != exitUnavailable || !strings.Contains(r.stderr, "paused") {
		t.Errorf("sync while paused: exit %d %q, want %d saying paused", r.code, r.stderr, exitUnavailable)
	}
	if st := envStatus(t, e); st.Uploads.QueuedFiles < 2 {
		t.Fatalf("while paused: uploads %+v, want the new files queued", st.Uploads)
	}
	if m := scrapeDaemon(t, d); m["shardrive_paused"] != 1 || m["shardrive_upload_queue_files"] < 2 ||
		m["shardrive_upload_queue_dirty_blocks"] < 3 || m["shardrive_upload_queue_oldest_seconds"] <= 0 {
		t.Fatalf("metrics while paused with changes queued: %v", m)
	}

	// Resumed: reads come from the farmers again.
	if out := e.must(t, "resume"); !strings.HasPrefix(out, "resumed") {
		t.Errorf("resume printed %q", out)
	}
	checkFiles(t, mnt, map[string][]byte{"stored.bin": stored})

	// Killed while paused with changes queued: nothing is lost.
	e.must(t, "pause")
	more := randomBytes(1<<20 + 7)
	writeSynced(t, filepath.Join(mnt, "late/c.bin"), more)
	queued["late/c.bin"] = more
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	if st := envStatus(t, e); st.Daemon != nil || st.Uploads.QueuedFiles < 1 {
		t.Fatalf("status after the kill: %+v, want no daemon and changes queued", st)
	}
	d = startDaemon(t, e, mnt) // clears the dead mount; not paused
	if st := envStatus(t, e); st.Daemon.Paused {
		t.Fatal("a new daemon starts paused")
	}
	checkFiles(t, mnt, queued)
	e.must(t, "sync", "--wait", "--timeout", "5m")
	if st := envStatus(t, e); st.Uploads.QueuedFiles != 0 || st.Uploads.DirtyBlocks != 0 {
		t.Fatalf("after sync: %+v", st.Uploads)
	}
	cacheClearIn(t, e)
	queued["stored.bin"] = stored
	checkFiles(t, mnt, queued) // from the farmers

	if out := e.must(t, "unmount"); out != "unmounted "+mnt+"\n" {
		t.Errorf("unmount printed %q", out)
	}
	<-d.done
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("daemon exited %d after unmount:\n%s", code, d.logText())
	}
	if socks, _ := filepath.Glob(filepath.Join(e.runtime, "shardrive", "*.sock")); len(socks) != 0 {
		t.Errorf("sockets left behind: %v", socks)
	}
	if r := e.run(t, nil, "resume"); r.code != exitError || !strings.Contains(r.stderr, "no shardrive daemon") {
		t.Errorf("resume without a daemon: exit %d %q", r.code, r.stderr)
	}
}

func cacheClearIn(t *testing.T, e userEnv) (dropped, kept int) {
	t.Helper()
	m := clearedRE.FindStringSubmatch(e.must(t, "cache", "clear"))
	if m == nil {
		t.Fatal("cache clear printed something else")
	}
	dropped, _ = strconv.Atoi(m[1])
	kept, _ = strconv.Atoi(m[2])
	return dropped, kept
}
