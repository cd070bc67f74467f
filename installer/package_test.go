package installer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const testVersion = "0.0.0-test"

var packageNames = []string{"shardrive", "shardfarmer"}

// TestDebInstall builds the .deb files of this machine's architecture with
// scripts/package.sh, installs them with dpkg -i on a machine without a
// running service manager (the maintainer scripts must cope), runs the
// installed binaries, verifies the installed units with systemd-analyze,
// and removes and purges the packages.
func TestDebInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and installs the packages")
	}
	if runtime.GOOS != "linux" {
		t.Skip("Debian packages are built on Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("dpkg -i needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "dpkg-query"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("not a Debian machine: no %s", tool)
		}
	}
	for _, p := range packageNames {
		if st, _ := dpkgStatus(p); st != "" && !strings.Contains(st, "not-installed") {
			t.Skipf("%s is installed on this machine (%s): not replacing it", p, st)
		}
	}

	out := t.TempDir()
	run(t, "../scripts/package.sh", "--version", testVersion, "--arch", runtime.GOARCH, "--debs-only", "--no-trimpath", "--out", out)
	var debs []string
	for _, p := range packageNames {
		deb := filepath.Join(out, p+"_"+testVersion+"_"+runtime.GOARCH+".deb")
		if dep := run(t, "dpkg-deb", "--field", deb, "Depends"); !strings.HasPrefix(dep, "libc6 (>= 2.") {
			t.Errorf("%s: Depends %q, want libc6 (>= 2.x): the binaries link SQLite against libc", p, dep)
		}
		debs = append(debs, deb)
	}

	t.Cleanup(func() {
		if b, err := exec.Command("dpkg", append([]string{"--purge"}, packageNames...)...).CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge: %v\n%s", err, b)
		}
	})
	installOut := run(t, "dpkg", append([]string{"-i"}, debs...)...)
	for _, p := range packageNames {
		if st, ver := dpkgStatus(p); st != "install ok installed" || ver != testVersion {
			t.Fatalf("%s after dpkg -i: %q version %q\n%s", p, st, ver, installOut)
		}
	}
	if !strings.Contains(installOut, "shardfarmer service install") {
		t.Errorf("the farmer's postinst did not say how to set it up:\n%s", installOut)
	}

	for _, p := range packageNames {
		want := p + " " + testVersion + " (commit "
		if got := run(t, "/usr/bin/"+p, "version"); !strings.HasPrefix(got, want) || !strings.Contains(got, runtime.Version()) {
			t.Errorf("/usr/bin/%s version = %q, want %q… with %s", p, got, want, runtime.Version())
		}
	}
	if got := run(t, "/usr/bin/shardfarmer", "--version"); got != "shardfarmer version "+testVersion {
		t.Errorf("shardfarmer --version = %q", got)
	}

	// The packaged units are the ones `service install` would write for the
	// packaged binaries, but for the comment at the top.
	home := t.TempDir()
	units := []struct {
		path string
		user bool
		gen  []string
	}{
		{DriveUnitPath, true, []string{"/usr/bin/shardrive", "service", "unit"}},
		{FarmerUnitPath, false, []string{"/usr/bin/shardfarmer", "service", "unit"}},
	}
	for _, u := range units {
		b, err := os.ReadFile(u.path)
		if err != nil {
			t.Fatalf("the package did not install its unit: %v", err)
		}
		cmd := exec.Command(u.gen[0], u.gen[1:]...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home} // no SHARDRIVE_HOME, default config
		gen, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: %v", strings.Join(u.gen, " "), err)
		} else if uncommented(string(b)) != uncommented(string(gen)) {
			t.Errorf("%s differs from what `%s` prints:\n%s\n---\n%s", u.path, strings.Join(u.gen, " "), b, gen)
		}
		verifyUnit(t, u.path, u.user)
	}
	if _, err := os.Stat("/usr/share/doc/shardrive/config.example"); err != nil {
		t.Errorf("no example configuration: %v", err)
	}

	run(t, "dpkg", append([]string{"-r"}, packageNames...)...)
	for _, path := range []string{"/usr/bin/shardrive", "/usr/bin/shardfarmer", DriveUnitPath, FarmerUnitPath} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after dpkg -r: %v, want it gone", path, err)
		}
	}
}

// verifyUnit runs systemd-analyze verify on an installed unit file and
// fails on any complaint, warnings included (unknown settings are only
// warnings). A user unit is verified by the user manager's rules, which
// want a runtime directory.
func verifyUnit(t *testing.T, path string, user bool) {
	t.Helper()
	tool, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if b, ierr := aptInstall("systemd"); ierr != nil {
			t.Skipf("systemd-analyze not found and apt-get install systemd failed (%v): units not verified\n%s", ierr, b)
		}
		if tool, err = exec.LookPath("systemd-analyze"); err != nil {
			t.Skip("systemd-analyze not found even after apt-get install systemd: units not verified")
		}
	}
	args := []string{"verify", path}
	env := os.Environ()
	if user {
		rt := filepath.Join(t.TempDir(), "run")
		if err := os.Mkdir(rt, 0o700); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--user"}, args...)
		env = append(env, "XDG_RUNTIME_DIR="+rt)
	}
	cmd := exec.Command(tool, args...)
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
		unit, _ := os.ReadFile(path)
		t.Errorf("systemd-analyze %s: %v\n%s\nunit:\n%s", strings.Join(args, " "), err, b, unit)
	}
}

func aptInstall(pkgs ...string) ([]byte, error) {
	var all []byte
	for _, args := range [][]string{{"update", "-qq"}, append([]string{"install", "-y", "-qq"}, pkgs...)} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		b, err := cmd.CombinedOutput()
		all = append(all, b...)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}

// uncommented is a unit's text without its comment lines.
func uncommented(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// dpkgStatus is what dpkg knows of package p: its status ("install ok
// installed") and version, or "" when it never heard of it.
func dpkgStatus(p string) (status, version string) {
	b, err := exec.Command("dpkg-query", "--show", "--showformat=${Status}\t${Version}", p).Output()
	if err != nil {
		return "", ""
	}
	status, version, _ = strings.Cut(string(b), "\t")
	return status, version
}

// run runs a command, fails t with its output if it fails, and returns its
// output trimmed.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	b, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
	return strings.TrimSpace(string(b))
}

func TestDebValidate(t *testing.T) {
	ok := Deb{Name: "shardrive", Version: "1.2.3", Arch: "amd64", Summary: "s",
		Files: []File{{Path: "/usr/bin/x", Mode: 0o755, Data: []byte("x")}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid package: %v", err)
	}
	for name, mod := range map[string]func(*Deb){
		"version without digit": func(d *Deb) { d.Version = "dev" },
		"upper-case name":       func(d *Deb) { d.Name = "Shardrive" },
		"two-line summary":      func(d *Deb) { d.Summary = "a\nb" },
		"relative path":         func(d *Deb) { d.Files[0].Path = "usr/bin/x" },
		"unclean path":          func(d *Deb) { d.Files[0].Path = "/usr/../bin/x" },
		"no content":            func(d *Deb) { d.Files[0].Data = nil },
		"content and source":    func(d *Deb) { d.Files[0].Source = "/bin/true" },
		"conffile outside /etc": func(d *Deb) { d.Files[0].Conffile = true },
		"file twice":            func(d *Deb) { d.Files = append(d.Files, d.Files[0]) },
	} {
		t.Run(name, func(t *testing.T) {
			d := ok
			d.Files = append([]File(nil), ok.Files...)
			mod(&d)
			if err := d.Validate(); !errors.Is(err, ErrBadPackage) {
				t.Errorf("Validate() = %v, want ErrBadPackage", err)
			}
		})
	}
}

func TestControl(t *testing.T) {
	d := Deb{Name: "shardfarmer", Version: "1.2.3", Arch: "arm64", Section: "net", Summary: "a farmer",
		Description: "First paragraph.\n\nSecond one.", Recommends: []string{"a", "b"}}
	got := string(d.control("libc6 (>= 2.34)", 42))
	want := "Package: shardfarmer\nVersion: 1.2.3\nArchitecture: arm64\nMaintainer: " + Maintainer + "\n" +
		"Installed-Size: 42\nDepends: libc6 (>= 2.34)\nRecommends: a, b\nSection: net\nPriority: optional\n" +
		"Homepage: " + Homepage + "\nDescription: a farmer\n First paragraph.\n .\n Second one.\n"
	if os.Getenv("SHARDRIVE_MAINTAINER") == "" && got != want {
		t.Errorf("control:\n%s\nwant:\n%s", got, want)
	}
}
