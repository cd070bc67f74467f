//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setupFarmers starts n farmers and returns their addresses, comma-separated.
func setupFarmers(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	var addrs []string
	for i := range n {
		addrs = append(addrs, startFarmer(t, filepath.Join(dir, fmt.Sprintf("farm%d", i+1))).addr)
	}
	return strings.Join(addrs, ",")
}

// noServiceManager says whether setup will find no service manager here
// (a container): then it may run without --no-service, and must still
// succeed. On a machine with one, tests never install a real service.
func noServiceManager() bool {
	_, err := os.Stat("/run/systemd/system")
	return err != nil
}

// checkConfig reads the configuration file setup wrote and checks the
// values it set.
func checkConfig(t *testing.T, path string, want map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	for k, v := range want {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k+" = "+v) + `$`).Match(b) {
			t.Errorf("%s does not set %s = %s:\n%s", path, k, v, b)
		}
	}
}

// checkUsable puts a file on the drive and gets it back.
func checkUsable(t *testing.T, home, config string) {
	t.Helper()
	src, want := randomFile(t, t.TempDir(), 200<<10)
	mustRun(t, home, "--config", config, "put", src, "/setup/file")
	if got := mustRun(t, home, "--config", config, "get", "/setup/file", "-"); got != string(want) {
		t.Fatal("file read back after setup differs")
	}
}

func TestSetupNonInteractive(t *testing.T) {
	farmers := setupFarmers(t, 3)
	dir := t.TempDir()
	home, conf, mnt := filepath.Join(dir, "home"), filepath.Join(dir, "config"), filepath.Join(dir, "mnt")
	r := mustRunR(t, home, "--config", conf, "setup", "--create", "--farmers", farmers, "--data-shards", "2", "--parity-shards", "1",
		"--mount", mnt, "--cache-max-size", "1GiB", "--no-service")
	words, ok := strings.CutPrefix(strings.TrimSpace(r.stdout), "mnemonic: ")
	if !ok || len(strings.Fields(words)) != 24 || strings.Contains(words, "\n") {
		t.Fatalf("setup --create printed %q on stdout, want the one mnemonic line of init", r.stdout)
	}
	if !strings.Contains(r.stderr, "--no-service") || !strings.Contains(r.stderr, "daemon") {
		t.Errorf("setup --no-service does not say how to start the daemon: %q", r.stderr)
	}
	checkConfig(t, conf, map[string]string{"mount": mnt, "cache-max-size": "1GiB", "home": home})
	if out := mustRun(t, home, "--config", conf, "config", "show"); !regexp.MustCompile(`mount\s+` + regexp.QuoteMeta(mnt) + `\s+config`).MatchString(out) {
		t.Errorf("config show does not take mount from the file setup wrote:\n%s", out)
	}
	checkUsable(t, home, conf)

	// A second setup in the same home refuses, before touching the file.
	if r := shardrive(t, home, nil, "--config", conf, "setup", "--create", "--farmers", farmers, "--mount", "/elsewhere"); r.code != exitNoDrive {
		t.Fatalf("setup --create over a drive: exit %d (%s), want %d", r.code, r.stderr, exitNoDrive)
	}
	checkConfig(t, conf, map[string]string{"mount": mnt})

	// Recover on "another machine": words on stdin, never argv. Without
	// a service manager setup goes as far as it can and succeeds.
	home2, conf2, mnt2 := filepath.Join(dir, "home2"), filepath.Join(dir, "config2"), filepath.Join(dir, "mnt2")
	args := []string{"--config", conf2, "setup", "--recover", "--farmers", strings.Split(farmers, ",")[1], "--mount", mnt2}
	if !noServiceManager() {
		args = append(args, "--no-service")
	}
	r = shardrive(t, home2, strings.NewReader(words+"\n"), args...)
	if r.code != 0 {
		t.Fatalf("setup --recover: exit %d: %s", r.code, r.stderr)
	}
	if noServiceManager() && (!strings.Contains(r.stderr, "could not be installed") || !strings.Contains(r.stderr, "daemon`")) {
		t.Errorf("setup without a service manager does not say so and point to the daemon: %q", r.stderr)
	}
	checkConfig(t, conf2, map[string]string{"mount": mnt2, "cache-max-size": setupDefaultCache, "home": home2})
	mustRun(t, home2, "--config", conf2, "get", "/setup/file", filepath.Join(dir, "back"))
	checkUsable(t, home2, conf2)

	// No terminal and no mode: a usage error, nothing asked.
	if r := shardrive(t, filepath.Join(dir, "home3"), strings.NewReader("create\n"), "--config", conf2, "setup"); r.code != exitUsage {
		t.Fatalf("setup without a terminal nor --create: exit %d (%s), want %d", r.code, r.stderr, exitUsage)
	}
}

// ptyProc is a shardrive process on a pseudo-terminal, driven as a user
// would: wait for a prompt, type an answer.
type ptyProc struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	done   chan struct{}

	mu   sync.Mutex
	out  bytes.Buffer
	seen int // offset in out past the last prompt matched
	grew chan struct{}
}

func startPTY(t *testing.T, home string, args ...string) *ptyProc {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "shardrive"), append([]string{"--home", home}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	p := &ptyProc{t: t, master: m, cmd: cmd, done: make(chan struct{}), grew: make(chan struct{}, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			// The terminal ends lines with \r\n; the test reads \n.
			p.out.Write(bytes.ReplaceAll(buf[:n], []byte("\r"), nil))
			p.mu.Unlock()
			select {
			case p.grew <- struct{}{}:
			default:
			}
			if err != nil {
				close(p.done)
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		m.Close()
	})
	return p
}

// expect waits for text in the output after the last match and returns
// the output up to and including it.
func (p *ptyProc) expect(text string) string {
	p.t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		p.mu.Lock()
		all := p.out.String()
		p.mu.Unlock()
		if i := strings.Index(all[p.seen:], text); i >= 0 {
			got := all[p.seen : p.seen+i+len(text)]
			p.seen += i + len(text)
			return got
		}
		select {
		case <-p.grew:
		case <-p.done:
			p.mu.Lock()
			all = p.out.String()
			p.mu.Unlock()
			if !strings.Contains(all[p.seen:], text) {
				p.t.Fatalf("setup ended without printing %q; it printed:\n%s", text, all)
			}
		case <-deadline:
			p.t.Fatalf("no %q after 2 minutes; setup printed:\n%s", text, all)
		}
	}
}

func (p *ptyProc) send(line string) {
	p.t.Helper()
	if _, err := p.master.Write([]byte(line + "\r")); err != nil {
		p.t.Fatal(err)
	}
}

// wait returns the exit code.
func (p *ptyProc) wait() int {
	p.t.Helper()
	err := p.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	return 0
}

var wordRE = regexp.MustCompile(`(\d+)\. ([a-z]+)`)

// setupWords reads the numbered words setup shows.
func setupWords(t *testing.T, shown string) map[int]string {
	t.Helper()
	words := map[int]string{}
	for _, m := range wordRE.FindAllStringSubmatch(shown, -1) {
		i, _ := strconv.Atoi(m[1])
		words[i] = m[2]
	}
	if len(words) != 24 {
		t.Fatalf("setup showed %d numbered words, want 24:\n%s", len(words), shown)
	}
	return words
}

var askRE = regexp.MustCompile(`Word (\d+): `)

// expectWord waits for setup to ask a word back and returns its position.
func (p *ptyProc) expectWord() int {
	p.t.Helper()
	m := askRE.FindStringSubmatch(p.expect("Word ") + p.expect(": "))
	if m == nil {
		p.t.Fatal("setup asked for a word without its position")
	}
	i, _ := strconv.Atoi(m[1])
	return i
}

func TestSetupInteractive(t *testing.T) {
	farmers := setupFarmers(t, 3)
	dir := t.TempDir()
	home, conf, mnt := filepath.Join(dir, "home"), filepath.Join(dir, "config"), filepath.Join(dir, "mnt")
	args := []string{"--config", conf, "setup", "--data-shards", "2", "--parity-shards", "1"}
	if !noServiceManager() {
		args = append(args, "--no-service")
	}
	p := startPTY(t, home, args...)
	p.expect("(create/recover) [create]: ")
	p.send("")
	p.expect("Farmer addresses")
	p.expect(": ")
	p.send(farmers)
	p.expect("can read it.\n\n")
	words := setupWords(t, p.expect("\n\n"))
	asked := map[int]bool{}
	for k := range setupChecks {
		i := p.expectWord()
		if asked[i] || i < 1 || i > 24 {
			t.Fatalf("setup asks for word %d again or out of range (asked %v)", i, asked)
		}
		asked[i] = true
		if k == 1 {
			// A wrong word (another of the 24) is refused and asked again.
			wrong := words[i%24+1]
			for j := 1; wrong == words[i]; j++ {
				wrong = words[j] // BIP39 words may repeat
			}
			p.send(wrong)
			p.expect(fmt.Sprintf("That is not word %d", i))
			if j := p.expectWord(); j != i {
				t.Fatalf("after a wrong word %d setup asks for word %d", i, j)
			}
		}
		p.send(strings.ToUpper(words[i])) // case does not matter
	}
	p.expect("Words confirmed.")
	p.expect("Folder to mount the drive on [")
	p.expect("]: ")
	p.send(mnt)
	p.expect("Local cache size limit")
	p.expect("[" + setupDefaultCache + "]: ")
	p.send("")
	p.expect("wrote " + conf)
	if noServiceManager() {
		p.expect("the service could not be installed")
		p.expect("daemon`")
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("interactive setup exit %d; it printed:\n%s", code, p.out.String())
	}
	checkConfig(t, conf, map[string]string{"mount": mnt, "cache-max-size": setupDefaultCache, "home": home})
	checkUsable(t, home, conf)

	// Recovery on a terminal: words that do not form a mnemonic are asked
	// again; they may come on several lines.
	var list []string
	for i := 1; i <= 24; i++ {
		list = append(list, words[i])
	}
	home3, conf3, mnt3 := filepath.Join(dir, "home3"), filepath.Join(dir, "config3"), filepath.Join(dir, "mnt3")
	p = startPTY(t, home3, "--config", conf3, "setup", "--no-service")
	p.expect("(create/recover) [create]: ")
	p.send("recover")
	p.expect("24 words")
	p.send(strings.Join(list[:23], " ") + " notaword")
	p.expect("word 24 is not in the BIP39")
	p.expect("24 words")
	p.send(strings.Join(list[:12], " "))
	p.send(strings.Join(list[12:], " "))
	p.expect("Address of a farmer")
	p.expect(": ")
	p.send(strings.Split(farmers, ",")[2])
	p.expect("Folder to mount the drive on [")
	p.expect("]: ")
	p.send(mnt3)
	p.expect("[" + setupDefaultCache + "]: ")
	p.send("2GiB")
	p.expect("--no-service")
	if code := p.wait(); code != 0 {
		t.Fatalf("interactive recover exit %d; it printed:\n%s", code, p.out.String())
	}
	checkConfig(t, conf3, map[string]string{"mount": mnt3, "cache-max-size": "2GiB", "home": home3})
	if got := mustRun(t, home3, "--config", conf3, "get", "/setup/file", "-"); len(got) != 200<<10 {
		t.Fatalf("recovered drive returns %d bytes of the file, want %d", len(got), 200<<10)
	}

	// Three wrong answers: setup stops with the drive made but nothing
	// further, and says what to do.
	home2, conf2 := filepath.Join(dir, "home2"), filepath.Join(dir, "config2")
	p = startPTY(t, home2, "--config", conf2, "setup", "--data-shards", "2", "--parity-shards", "1", "--no-service")
	p.expect("(create/recover) [create]: ")
	p.send("c")
	p.expect("Farmer addresses")
	p.expect(": ")
	p.send(farmers)
	p.expect("Word ")
	for range 3 {
		p.expect(": ")
		p.send("notaword")
		p.expect("That is not word")
	}
	out := p.expect("setup again")
	if code := p.wait(); code == 0 {
		t.Fatalf("setup with a word wrong three times succeeded:\n%s", out)
	}
	if _, err := os.Stat(conf2); !os.IsNotExist(err) {
		t.Errorf("setup wrote the configuration file although the words were not confirmed (%v)", err)
	}
}
