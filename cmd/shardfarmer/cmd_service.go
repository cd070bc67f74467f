package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/service/system"
)

// serviceDir is the data directory of the farmer's system service: systemd
// makes it (StateDirectory) for the account it runs the farmer as.
const serviceDir = "/var/lib/shardfarmer"

// ServiceOptions are the flags of "shardfarmer service": those of run,
// which install writes into DIR/config, and the account.
type ServiceOptions struct {
	Run   RunOptions
	RunAs string
}

func newServiceCommand(g *globals) *cobra.Command {
	opts := &ServiceOptions{}
	cmd := &cobra.Command{
		Use:   "service install|uninstall|start|stop|status|unit [flags]",
		Short: "Run the farmer as a system service (systemd)",
		Long: `Service installs "shardfarmer run --dir DIR" as a system service started at
boot (needs root), with the run flags given to install written into
DIR/config, the farmer's configuration file (kept, and updated, by later
installs). Under /var/lib, DIR is the service's StateDirectory, owned by an
account systemd makes up for it (DynamicUser) unless --run-as names one;
elsewhere --run-as is needed. The service is sandboxed: it may write only
DIR. Logs go to the journal (journalctl -u shardfarmer). Where no service
manager runs (a container), every subcommand fails with exit code 5: run
"shardfarmer run" in the foreground instead.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return fmt.Errorf("%w: service needs a subcommand: install, uninstall, start, stop, status or unit", errUsage)
		},
	}
	sub := func(use, short string, run func(m *system.Manager, u system.Unit) error) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				u, err := opts.unit()
				if err != nil {
					return err
				}
				m, err := system.New(u)
				if err != nil {
					return noManager(err)
				}
				return run(m, u)
			},
		}
	}
	install := &cobra.Command{
		Use:   "install",
		Short: "Write DIR/config, install the service and start it",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServiceInstall(cmd, opts, g)
		},
	}
	opts.Run.AddFlags(install)
	install.Flags().Lookup("dir").DefValue = serviceDir
	install.Flags().MarkHidden("check")
	install.Flags().StringVar(&opts.RunAs, "run-as", "", "account to run as (default: one systemd makes up, for a DIR under /var/lib)")
	unit := &cobra.Command{
		Use:   "unit",
		Short: "Print the systemd unit install writes (works without a service manager)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := opts.unit()
			if err != nil {
				return err
			}
			text, err := u.Systemd()
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(g.stdout, text)
			return err
		},
	}
	unit.Flags().StringVar(&opts.Run.Dir, "dir", serviceDir, "data directory of the farmer")
	unit.Flags().StringVar(&opts.RunAs, "run-as", "", "account to run as")
	// The other subcommands need only the service's name; the defaults
	// make a valid unit.
	opts.Run.Dir = serviceDir
	cmd.AddCommand(install, unit,
		sub("uninstall", "Stop the service and remove it (DIR and its shards stay)", func(m *system.Manager, u system.Unit) error {
			if err := m.Uninstall(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "uninstalled %s; the data directory stays\n", u.Name)
			return nil
		}),
		sub("start", "Start the installed service", func(m *system.Manager, u system.Unit) error {
			if err := m.Start(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "started %s\n", u.Name)
			return nil
		}),
		sub("stop", "Stop the service (it starts again at boot)", func(m *system.Manager, u system.Unit) error {
			if err := m.Stop(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "stopped %s\n", u.Name)
			return nil
		}),
		sub("status", "Say whether the service is installed and running", func(m *system.Manager, u system.Unit) error {
			st, err := m.Status()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s (%s): %s\n", u.Name, m.Platform(), st)
			return nil
		}),
	)
	return cmd
}

// unit is the system service that runs the farmer on opts.Run.Dir.
func (opts *ServiceOptions) unit() (system.Unit, error) {
	dir := filepath.Clean(opts.Run.Dir)
	if !filepath.IsAbs(dir) {
		return system.Unit{}, fmt.Errorf("%w: --dir %q: a service needs an absolute path", errUsage, opts.Run.Dir)
	}
	exe, err := os.Executable()
	if err != nil {
		return system.Unit{}, fmt.Errorf("find own executable: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	u := system.Unit{
		Name:        "shardfarmer",
		Description: "Shardrive storage farmer",
		Exec:        exe,
		Args:        []string{"run", "--dir", dir},
		RunAs:       opts.RunAs,
		Network:     true,
		Sandbox:     true,
		// Usage and data directory failures need the operator.
		NoRestart: []int{exitUsage, exitDataDir},
	}
	if rel, ok := strings.CutPrefix(dir, "/var/lib/"); ok && rel != "" {
		u.StateDir = rel
		u.DynamicUser = opts.RunAs == ""
	} else {
		if opts.RunAs == "" {
			return system.Unit{}, fmt.Errorf("%w: --dir %s is outside /var/lib: name the account to run as with --run-as", errUsage, dir)
		}
		u.ReadWrite = []string{dir}
	}
	return u, u.Validate()
}

// runServiceInstall writes the configuration and checks it as run will
// read it, then installs and starts the service. Where no service manager
// runs, the configuration is written all the same, ready for run.
func runServiceInstall(cmd *cobra.Command, opts *ServiceOptions, g *globals) error {
	u, err := opts.unit()
	if err != nil {
		return err
	}
	path, err := prepareServiceDir(cmd, opts)
	if err != nil {
		return err
	}
	m, err := system.New(u)
	if errors.Is(err, system.ErrNoManager) {
		return fmt.Errorf("wrote %s, but %w; run \"shardfarmer run --dir %s\" in the foreground instead", path, err, filepath.Dir(path))
	}
	if err != nil {
		return err
	}
	if err := m.InstallAndStart(); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "installed and started %s (%s); settings in %s; logs: journalctl -u %s\n", u.Name, m.Platform(), path, u.Name)
	return nil
}

// prepareServiceDir makes the data directory, writes the run flags given
// to cmd into its configuration file and checks the file as run will read
// it. It returns the file's path.
func prepareServiceDir(cmd *cobra.Command, opts *ServiceOptions) (string, error) {
	dir := filepath.Clean(opts.Run.Dir)
	// Check the flags before writing anything.
	if _, err := opts.Run.config(); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	path, err := writeConfig(cmd, dir)
	if err != nil {
		return path, fmt.Errorf("write %s: %w", path, err)
	}
	// What run will read: the file, and nothing from this command line.
	var out strings.Builder
	check := newRootCommand(&globals{stdout: &out, stderr: &out}, func() {})
	check.SetArgs([]string{"run", "--dir", dir, "--check"})
	check.SetOut(&out)
	check.SetErr(&out)
	if err := check.ExecuteContext(cmd.Context()); err != nil {
		return path, fmt.Errorf("check %s: %w", path, err)
	}
	return path, nil
}

// noManager turns the absence of a service manager into the one line the
// CLI promises, pointing to the foreground farmer.
func noManager(err error) error {
	if errors.Is(err, system.ErrNoManager) {
		return fmt.Errorf("%w; run \"shardfarmer run\" in the foreground instead", err)
	}
	return err
}
