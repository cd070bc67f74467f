package installer

import (
	"bytes"
	"debug/elf"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

//go:embed templates
var templates embed.FS

// ErrBadPackage marks a package description that cannot be built.
var ErrBadPackage = errors.New("bad package")

// File is one file of a package.
type File struct {
	Path   string      // where it is installed, absolute
	Mode   fs.FileMode // permission bits
	Data   []byte      // the content, or
	Source string      // the file to copy it from
	// Conffile: the administrator's edits survive upgrades (dpkg asks),
	// and purging removes it. For files under /etc.
	Conffile bool
}

// Deb describes one binary package.
type Deb struct {
	Name    string
	Version string // Debian version: starts with a digit
	Arch    string // Debian architecture: amd64, arm64
	Section string
	Summary string // the first line of Description
	// Description is the long description, paragraphs separated by blank
	// lines.
	Description string
	// Binary is the ELF executable whose libc symbol versions set the
	// dependency on libc6.
	Binary     string
	Recommends []string
	Files      []File
	Scripts    map[string][]byte // maintainer scripts: postinst, prerm, postrm
}

// Options are what Packages builds from.
type Options struct {
	Version      string // Debian version of both packages
	Arch         string // Debian architecture
	DriveBinary  string // the shardrive executable for Arch
	FarmerBinary string // the shardfarmer executable for Arch
	Readme       string // README.md, installed as the packages' documentation
	// DriveConfig, if set, is installed as the drive's example
	// configuration: what `shardrive config init` writes.
	DriveConfig string
}

// Homepage is the control file's Homepage.
const Homepage = "https://github.com/shardrive/shardrive"

// Maintainer is the control file's Maintainer (SHARDRIVE_MAINTAINER
// overrides it).
const Maintainer = "Shardrive developers <shardrive@users.noreply.github.com>"

// FarmerConfig is the farmer service's configuration file: `shardfarmer
// run --dir DIR` reads DIR/config, and `shardfarmer service install`
// writes it. The package ships none: it would live in the directory
// systemd makes for the service's made-up user.
const FarmerConfig = FarmerStateDir + "/config"

// Packages describes the shardrive and shardfarmer packages.
func Packages(o Options) ([]Deb, error) {
	driveUnit, err := packagedUnit(DriveUnit(), "shardrive")
	if err != nil {
		return nil, err
	}
	farmerUnit, err := packagedUnit(FarmerUnit(), "shardfarmer")
	if err != nil {
		return nil, err
	}
	tmpl := func(name string) []byte {
		b, err := templates.ReadFile("templates/" + name)
		if err != nil {
			panic(err) // embedded: a missing one is a bug
		}
		b = bytes.ReplaceAll(b, []byte("@CONFIG@"), []byte(FarmerConfig))
		return bytes.ReplaceAll(b, []byte("@STATE@"), []byte(FarmerStateDir))
	}
	scripts := func(pkg string, names ...string) map[string][]byte {
		m := map[string][]byte{}
		for _, n := range names {
			m[n] = tmpl(pkg + "." + n)
		}
		return m
	}
	drive := Deb{
		Name: "shardrive", Version: o.Version, Arch: o.Arch, Section: "utils", Binary: o.DriveBinary,
		Summary: "zero-access encrypted drive on a network of storage farmers",
		Description: "Files are encrypted on this machine with keys from a 24-word mnemonic,\n" +
			"erasure-coded and spread over storage farmers that cannot read them.\n" +
			"The drive mounts as an ordinary folder (FUSE) and uploads in the background.\n\n" +
			"The per-user service runs `shardrive daemon` at login once enabled:\n" +
			"`shardrive setup`, or `systemctl --user enable --now shardrive`.",
		Recommends: []string{"fuse3"},
		Files: []File{
			{Path: DriveBinary, Mode: 0o755, Source: o.DriveBinary},
			{Path: DriveUnitPath, Mode: 0o644, Data: []byte(driveUnit)},
			{Path: "/usr/share/doc/shardrive/README.md", Mode: 0o644, Source: o.Readme},
		},
		Scripts: scripts("shardrive", "postinst", "postrm"),
	}
	if o.DriveConfig != "" {
		drive.Files = append(drive.Files, File{Path: "/usr/share/doc/shardrive/config.example", Mode: 0o644, Source: o.DriveConfig})
	}
	farmer := Deb{
		Name: "shardfarmer", Version: o.Version, Arch: o.Arch, Section: "net", Binary: o.FarmerBinary,
		Summary: "storage farmer for Shardrive encrypted drives",
		Description: "Stores encrypted, erasure-coded shards for Shardrive clients and serves\n" +
			"them over TLS 1.3, pinned to the farmer's ed25519 identity.\n\n" +
			"The system service keeps its identity, shards and settings (config) in\n" +
			FarmerStateDir + ". Set it up and start it with `shardfarmer service install\n" +
			"--listen :7001 --advertise HOST:7001 --capacity 2TiB`.",
		Files: []File{
			{Path: FarmerBinary, Mode: 0o755, Source: o.FarmerBinary},
			{Path: FarmerUnitPath, Mode: 0o644, Data: []byte(farmerUnit)},
			{Path: "/usr/share/doc/shardfarmer/README.md", Mode: 0o644, Source: o.Readme},
		},
		Scripts: scripts("shardfarmer", "postinst", "prerm", "postrm"),
	}
	return []Deb{drive, farmer}, nil
}

var (
	debVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~:-]*$`)
	debName    = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]+$`)
	debArch    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// Validate reports what dpkg-deb would refuse, or what would make a broken
// package.
func (d Deb) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %s: %s", ErrBadPackage, d.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case !debName.MatchString(d.Name):
		return bad("name %q: lower-case letters, digits, + - .", d.Name)
	case !debVersion.MatchString(d.Version):
		return bad("version %q: want a Debian version, starting with a digit", d.Version)
	case !debArch.MatchString(d.Arch):
		return bad("architecture %q", d.Arch)
	case d.Summary == "" || strings.Contains(d.Summary, "\n"):
		return bad("the summary must be one line")
	}
	seen := map[string]bool{}
	for _, f := range d.Files {
		switch {
		case !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path:
			return bad("file %q: want a clean absolute path", f.Path)
		case seen[f.Path]:
			return bad("file %q twice", f.Path)
		case (f.Data == nil) == (f.Source == ""):
			return bad("file %q: give its content or its source, not both", f.Path)
		case f.Conffile && !strings.HasPrefix(f.Path, "/etc/"):
			return bad("conffile %q is not under /etc", f.Path)
		}
		seen[f.Path] = true
	}
	return nil
}

// Build writes NAME_VERSION_ARCH.deb into outDir with dpkg-deb and returns
// its path.
func (d Deb) Build(outDir string) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	stage, err := os.MkdirTemp("", "shardrive-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	root := filepath.Join(stage, d.Name)
	if err := d.stage(root); err != nil {
		return "", fmt.Errorf("stage %s: %w", d.Name, err)
	}
	out := filepath.Join(outDir, fmt.Sprintf("%s_%s_%s.deb", d.Name, d.Version, d.Arch))
	cmd := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb --build %s: %w: %s", d.Name, err, strings.TrimSpace(string(b)))
	}
	return out, nil
}

// stage lays the package out under root: its files, and DEBIAN/ with the
// control file, conffiles and maintainer scripts.
func (d Deb) stage(root string) error {
	var sizeKiB int64
	var conffiles []string
	for _, f := range d.Files {
		dst := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := mkdirs(root, filepath.Dir(dst)); err != nil {
			return err
		}
		data := f.Data
		if f.Source != "" {
			var err error
			if data, err = os.ReadFile(f.Source); err != nil {
				return err
			}
		}
		if err := writeFile(dst, data, f.Mode); err != nil {
			return err
		}
		sizeKiB += (int64(len(data)) + 1023) / 1024
		if f.Conffile {
			conffiles = append(conffiles, f.Path)
		}
	}
	depends, err := libcDepends(d.Binary)
	if err != nil {
		return err
	}
	ctl := filepath.Join(root, "DEBIAN")
	if err := mkdirs(root, ctl); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(ctl, "control"), d.control(depends, sizeKiB), 0o644); err != nil {
		return err
	}
	if len(conffiles) > 0 {
		if err := writeFile(filepath.Join(ctl, "conffiles"), []byte(strings.Join(conffiles, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	for name, text := range d.Scripts {
		if err := writeFile(filepath.Join(ctl, name), text, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// control is the DEBIAN/control file.
func (d Deb) control(depends string, sizeKiB int64) []byte {
	maintainer := Maintainer
	if m := os.Getenv("SHARDRIVE_MAINTAINER"); m != "" {
		maintainer = m
	}
	var b strings.Builder
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	field("Package", d.Name)
	field("Version", d.Version)
	field("Architecture", d.Arch)
	field("Maintainer", maintainer)
	field("Installed-Size", strconv.FormatInt(sizeKiB, 10))
	field("Depends", depends)
	field("Recommends", strings.Join(d.Recommends, ", "))
	field("Section", d.Section)
	field("Priority", "optional")
	field("Homepage", Homepage)
	field("Description", d.Summary)
	for _, line := range strings.Split(strings.TrimSpace(d.Description), "\n") {
		if line = strings.TrimRight(line, " \t"); line == "" {
			line = "." // a blank line of the long description
		}
		b.WriteString(" " + line + "\n")
	}
	return []byte(b.String())
}

// libcDepends is the dependency on libc6 of the binary at path: the newest
// GLIBC_x.y symbol version it needs (cgo links SQLite against the builder's
// libc), or "" for a static binary.
func libcDepends(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	syms, err := f.ImportedSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return "", fmt.Errorf("read the symbols of %s: %w", path, err)
	}
	var newest []int
	found := false
	for _, s := range syms {
		v, ok := strings.CutPrefix(s.Version, "GLIBC_")
		if !ok {
			found = found || strings.HasPrefix(s.Library, "libc.so")
			continue
		}
		found = true
		parts, err := versionParts(v)
		if err == nil && slices.Compare(parts, newest) > 0 {
			newest = parts
		}
	}
	switch {
	case !found:
		return "", nil
	case newest == nil:
		return "libc6", nil
	}
	s := make([]string, len(newest))
	for i, n := range newest {
		s[i] = strconv.Itoa(n)
	}
	return "libc6 (>= " + strings.Join(s, ".") + ")", nil
}

func versionParts(v string) ([]int, error) {
	var parts []int
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
	}
	return parts, nil
}

// mkdirs makes dir and its parents up to root 0755, whatever the umask:
// dpkg installs directories with the modes they have in the package.
func mkdirs(root, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for d := dir; len(d) >= len(root); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
		if d == root {
			break
		}
	}
	return nil
}

// writeFile writes data with exactly mode, whatever the umask.
func writeFile(path string, data []byte, mode fs.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
