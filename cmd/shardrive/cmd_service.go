package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/service/system"
)

// serviceOptions are the flags of `shardrive service ...`.
type serviceOptions struct {
	user   bool
	system bool
	runAs  string
}

func (o *serviceOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.BoolVar(&o.user, "user", false, "a service of your own, started when you log in (the default)")
	f.BoolVar(&o.system, "system", false, "a system service started at boot, running as --run-as (needs root)")
	f.StringVar(&o.runAs, "run-as", "", "with --system, the account the daemon runs as (default: $SUDO_USER, else you)")
}

func newServiceCommand(g *globals) *cobra.Command {
	var o serviceOptions
	cmd := &cobra.Command{
		Use:   "service install|uninstall|start|stop|status|unit [--user|--system]",
		Short: "Run the daemon as a service of the system's service manager (systemd)",
		Long: "Install `shardrive daemon` as a service: by default a user service (systemd --user) that mounts\n" +
			"the drive on the configured folder whenever you are logged in; with --system a system service\n" +
			"started at boot. The daemon reads the configuration file (shardrive config show); install checks\n" +
			"that it names a mount folder and that the home holds a drive. Logs go to the journal\n" +
			"(journalctl --user -u shardrive). Where no service manager runs (a container), every subcommand\n" +
			"fails with exit code 11: run `shardrive daemon` in the foreground instead.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%w: service needs a subcommand: install, uninstall, start, stop, status or unit", errUsage)
		},
	}
	o.AddFlags(cmd)
	sub := func(use, short string, run func(cmd *cobra.Command, m *system.Manager, u system.Unit) error) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  exactArgs(0),
			RunE: func(cmd *cobra.Command, args []string) error {
				u, err := o.unit(cmd, g)
				if err != nil {
					return err
				}
				m, err := system.New(u)
				if err != nil {
					return noManager(err)
				}
				return run(cmd, m, u)
			},
		}
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "install",
			Short: "Install the service and start it (replacing an older one)",
			Args:  exactArgs(0),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runServiceInstall(cmd, g, o)
			},
		},
		sub("uninstall", "Stop the service and remove it", func(cmd *cobra.Command, m *system.Manager, u system.Unit) error {
			if err := m.Uninstall(); err != nil {
				return err
			}
			fmt.Printf("uninstalled %s\n", u.Name)
			return nil
		}),
		sub("start", "Start the installed service", func(cmd *cobra.Command, m *system.Manager, u system.Unit) error {
			if err := m.Start(); err != nil {
				return err
			}
			fmt.Printf("started %s\n", u.Name)
			return nil
		}),
		sub("stop", "Stop the service (it starts again at the next login or boot)", func(cmd *cobra.Command, m *system.Manager, u system.Unit) error {
			if err := m.Stop(); err != nil {
				return err
			}
			fmt.Printf("stopped %s\n", u.Name)
			return nil
		}),
		sub("status", "Say whether the service is installed and running", func(cmd *cobra.Command, m *system.Manager, u system.Unit) error {
			st, err := m.Status()
			if err != nil {
				return err
			}
			fmt.Printf("%s (%s, %s): %s\n", u.Name, o.kind(), m.Platform(), st)
			return nil
		}),
		&cobra.Command{
			Use:   "unit",
			Short: "Print the systemd unit that install writes (works without a service manager)",
			Args:  exactArgs(0),
			RunE: func(cmd *cobra.Command, args []string) error {
				u, err := o.unit(cmd, g)
				if err != nil {
					return err
				}
				return printUnit(os.Stdout, u)
			},
		},
	)
	return cmd
}

// runServiceInstall installs the daemon's service and starts it (restarts
// it if it ran): what `service install` does, and `setup` at its end.
func runServiceInstall(cmd *cobra.Command, g *globals, o serviceOptions) error {
	u, err := o.unit(cmd, g)
	if err != nil {
		return err
	}
	m, err := system.New(u)
	if err != nil {
		return noManager(err)
	}
	if err := o.checkReady(g); err != nil {
		return err
	}
	if err := m.InstallAndStart(); err != nil {
		return err
	}
	fmt.Printf("installed and started %s (%s, %s); logs: %s\n", u.Name, o.kind(), m.Platform(), o.journal(u))
	return nil
}

func printUnit(w io.Writer, u system.Unit) error {
	text, err := u.Systemd()
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, text)
	return err
}

// noManager turns the absence of a service manager into the one line the
// CLI promises, pointing to the foreground daemon.
func noManager(err error) error {
	if errors.Is(err, system.ErrNoManager) {
		return fmt.Errorf("%w; run `shardrive daemon` in the foreground instead (it mounts the configured folder)", err)
	}
	return err
}

func (o serviceOptions) kind() string {
	if o.system {
		return "system service"
	}
	return "user service"
}

func (o serviceOptions) journal(u system.Unit) string {
	if o.system {
		return "journalctl -u " + u.Name
	}
	return "journalctl --user -u " + u.Name
}

// unit is the service that runs `shardrive daemon` with this command's
// home and configuration file, when they were named explicitly (the
// service's environment finds the defaults itself).
func (o serviceOptions) unit(cmd *cobra.Command, g *globals) (system.Unit, error) {
	if o.user && o.system {
		return system.Unit{}, fmt.Errorf("%w: --user or --system, not both", errUsage)
	}
	if o.runAs != "" && !o.system {
		return system.Unit{}, fmt.Errorf("%w: --run-as goes with --system", errUsage)
	}
	exe, err := os.Executable()
	if err != nil {
		return system.Unit{}, fmt.Errorf("find own executable: %w", err)
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	args := []string{"daemon"}
	if g.conf.flag != "" {
		args = append(args, "--config", g.conf.path)
	}
	if cmd.Flags().Changed("home") || os.Getenv("SHARDRIVE_HOME") != "" {
		home, err := filepath.Abs(g.home().state)
		if err != nil {
			return system.Unit{}, err
		}
		args = append(args, "--home", home)
	}
	u := system.Unit{
		Name:        "shardrive",
		Description: "Shardrive drive: mounts the drive and uploads in the background",
		Exec:        exe,
		Args:        args,
		User:        !o.system,
		// Exits that mean "fix the setup first" are not retried.
		NoRestart: []int{exitUsage, exitWrongKey, exitNoDrive, exitOtherDevice},
	}
	if o.system {
		runAs := o.runAs
		if runAs == "" {
			runAs = os.Getenv("SUDO_USER")
		}
		if runAs == "" {
			cu, err := user.Current()
			if err != nil {
				return system.Unit{}, fmt.Errorf("--system: who to run as: %w (give --run-as)", err)
			}
			runAs = cu.Username
		}
		u.Name = "shardrive-" + runAs
		u.RunAs = runAs
		u.Network = true
	}
	return u, nil
}

// checkReady refuses to install a user service whose daemon could only
// fail: no drive in the home, or no folder to mount. (A system service
// runs as another account, whose files this command does not read.)
func (o serviceOptions) checkReady(g *globals) error {
	if o.system {
		return nil
	}
	h := g.home().service()
	if _, err := os.Stat(h.DBPath()); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w (run shardrive init first)", h.State, cache.ErrNotInitialized)
	}
	if _, ok := g.conf.file.Lookup("mount"); !ok {
		return fmt.Errorf("%w: the service mounts the folder of mount = DIR in %s: set it first (shardrive config init --mount DIR)",
			errUsage, g.conf.path)
	}
	return nil
}
