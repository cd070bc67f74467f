package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/adrg/xdg"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shardrive/shardrive/service"
	"github.com/shardrive/shardrive/service/conffile"
)

// The drive's configuration file: $XDG_CONFIG_HOME/shardrive/config, or
// --config FILE (format: package conffile; the keys: docs/format/control.md).
// Its keys are the daemon's flags (driveOptions) and home; a flag given on
// the command line wins over the file, SHARDRIVE_HOME wins over its home,
// and the file wins over the defaults. Every command reads it (home says
// where the drive is); a file that does not parse fails every command
// (exit 2), a missing one at the default place is no error.

// driveConf is the configuration file as this command loaded it.
type driveConf struct {
	flag string         // --config
	path string         // the file read, or that would have been
	file *conffile.File // nil: no file
	// from names where each key the file set was applied: "PATH:LINE".
	from map[string]string
}

func defaultConfigPath() string { return filepath.Join(xdg.ConfigHome, "shardrive", "config") }

// configFlags is the set of the file's keys, as flags: defaults, help and
// value checks in one place, in the order the template lists them.
func configFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("config", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.String("home", "", "directory of the drive's local state: metadata and keys (default: $XDG_STATE_HOME/shardrive, with the local cache in $XDG_CACHE_HOME/shardrive)")
	var o driveOptions
	o.AddFlags(fs)
	return fs
}

// Keys whose values need more than their flag's check.
var (
	configPathKeys = map[string]bool{"home": true, "mount": true, "cache-dir": true}
	configSizeKeys = map[string]bool{"cache-max-size": true}
	configAddrKeys = map[string]bool{"metrics": true}
)

// skipConfig annotates a command that does not read the configuration
// file (config init, which may replace a broken one).
const skipConfig = "shardrive-skip-config"

func addConfigFlag(root *cobra.Command, g *globals) {
	root.PersistentFlags().StringVar(&g.conf.flag, "config", "", "configuration file (default $XDG_CONFIG_HOME/shardrive/config)")
}

// loadConfig reads the configuration file and gives its values to the
// flags of cmd that the command line left alone.
func (g *globals) loadConfig(cmd *cobra.Command) error {
	c := &g.conf
	c.path = c.flag
	if c.path == "" {
		c.path = defaultConfigPath()
	} else if abs, err := filepath.Abs(c.path); err == nil {
		c.path = abs
	}
	if cmd.Annotations[skipConfig] != "" {
		return nil
	}
	keys := configFlags()
	f, err := conffile.Read(c.path, func(k string) bool { return keys.Lookup(k) != nil })
	if conffile.IsNotExist(err) && c.flag == "" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: config: %w", errUsage, err)
	}
	c.file = f
	c.from = map[string]string{}
	for _, e := range f.Entries {
		if e.Value == "" {
			continue
		}
		v, err := configValue(keys, e)
		if err != nil {
			return fmt.Errorf("%w: config: %w", errUsage, &conffile.Error{Path: f.Path, Line: e.Line, Msg: fmt.Sprintf("%s: %v", e.Key, err)})
		}
		if e.Key == "home" && os.Getenv("SHARDRIVE_HOME") != "" {
			continue
		}
		fl := cmd.Flags().Lookup(e.Key)
		if fl == nil || fl.Changed {
			continue
		}
		if err := fl.Value.Set(v); err != nil {
			return fmt.Errorf("%w: config: %s:%d: %s: %w", errUsage, f.Path, e.Line, e.Key, err)
		}
		c.from[e.Key] = fmt.Sprintf("%s:%d", f.Path, e.Line)
	}
	return nil
}

// configValue checks one setting and returns its value as the flag takes
// it (a leading ~/ expanded).
func configValue(keys *pflag.FlagSet, e conffile.Entry) (string, error) {
	v := e.Value
	switch {
	case configPathKeys[e.Key]:
		if rest, ok := strings.CutPrefix(v, "~/"); ok {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", err
			}
			v = filepath.Join(home, rest)
		}
		if !filepath.IsAbs(v) {
			return "", fmt.Errorf("%q is not an absolute path (nor starts with ~/)", e.Value)
		}
	case configSizeKeys[e.Key]:
		if _, err := humanize.ParseBytes(v); err != nil {
			return "", fmt.Errorf("%q is not a size such as 20GiB", v)
		}
	case configAddrKeys[e.Key]:
		if err := checkLoopback(v); err != nil {
			return "", err
		}
	}
	if err := keys.Set(e.Key, v); err != nil {
		return "", fmt.Errorf("%q: %w", v, err)
	}
	return v, nil
}

// checkLoopback accepts host:port with a loopback host: metrics are for
// this machine only.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: the host must be a loopback address (127.0.0.1, ::1 or localhost)", addr)
	}
	return nil
}

// source says where the value of key comes from for cmd.
func (c *driveConf) source(cmd *cobra.Command, key string) string {
	switch {
	case cmd.Flags().Changed(key):
		return "flag --" + key
	case key == "home" && os.Getenv("SHARDRIVE_HOME") != "":
		return "env SHARDRIVE_HOME"
	case c.from[key] != "":
		return "config " + c.from[key]
	}
	return "default"
}

func newConfigCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or create the configuration file",
		Long: "The configuration file (--config, default $XDG_CONFIG_HOME/shardrive/config) holds the daemon's\n" +
			"settings as `key = value` lines; flags override it. Its keys are the flags of `shardrive daemon`\n" +
			"and home.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%w: config needs a subcommand: show or init", errUsage)
		},
	}
	var show driveOptions
	showCmd := &cobra.Command{
		Use:   "show [flags]",
		Short: "Print the settings in effect and where each comes from (default, config, env or flag)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfigShow(cmd, g, os.Stdout)
		},
	}
	show.AddFlags(showCmd.Flags())
	var initOpts driveOptions
	var force bool
	initCmd := &cobra.Command{
		Use:         "init [--force] [flags]",
		Annotations: map[string]string{skipConfig: "yes"},
		Short:       "Write a commented configuration file with the settings given as flags",
		Long: "Write the configuration file (0600) listing every key with its help and default, commented out,\n" +
			"and setting the ones given as flags (and --home). An existing file is kept unless --force.",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			values := map[string]string{}
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if configFlags().Lookup(f.Name) != nil {
					values[f.Name] = f.Value.String()
				}
			})
			if v, ok := values["home"]; ok {
				if abs, err := filepath.Abs(v); err == nil {
					values["home"] = abs
				}
			}
			if err := writeDriveConfig(g.conf.path, values, force); err != nil {
				return err
			}
			fmt.Printf("wrote %s\n", g.conf.path)
			return nil
		},
	}
	initOpts.AddFlags(initCmd.Flags())
	initCmd.Flags().BoolVar(&force, "force", false, "replace an existing file")
	cmd.AddCommand(showCmd, initCmd)
	return cmd
}

func runConfigShow(cmd *cobra.Command, g *globals, w io.Writer) error {
	state := "not found: defaults only"
	if g.conf.file != nil {
		state = "read"
	}
	fmt.Fprintf(w, "config file: %s (%s)\n", g.conf.path, state)
	fmt.Fprintf(w, "control socket: %s\n", g.home().service().SocketPath())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
	var err error
	configFlags().VisitAll(func(k *pflag.Flag) {
		var v string
		if k.Name == "home" {
			v = g.home().state
		} else if f := cmd.Flags().Lookup(k.Name); f != nil {
			v = f.Value.String()
		} else {
			err = fmt.Errorf("config show lacks the flag of key %s", k.Name)
			return
		}
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, v, g.conf.source(cmd, k.Name))
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// errConfigExists: config init would replace a file.
var errConfigExists = errors.New("configuration file exists")

// configTemplate is the commented configuration file with values set and
// every other key commented out at its default.
func configTemplate(values map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`# Shardrive drive configuration. "shardrive config show" prints the
# settings in effect and where each comes from.
#
# One "key = value" per line; a line starting with # is a comment (not
# after a value: a # there is part of the value). An empty value, or a
# key left out, means the default. Paths are absolute or start with ~/.
# Flags given on the command line override this file. It never holds
# secrets: the drive's keys stay in its home, readable by you alone.
version = 1
`)
	keys := configFlags()
	var bad error
	keys.VisitAll(func(f *pflag.Flag) {
		b.WriteString("\n")
		b.WriteString(commentLines(f.Usage, 76))
		v, ok := values[f.Name]
		if !ok {
			b.WriteString(strings.TrimSpace(fmt.Sprintf("#%s = %s", f.Name, f.DefValue)) + "\n")
			return
		}
		if _, err := configValue(keys, conffile.Entry{Key: f.Name, Value: v}); err != nil || strings.ContainsAny(v, "\n\r") {
			bad = errors.Join(bad, fmt.Errorf("%s: %v", f.Name, err))
		}
		fmt.Fprintf(&b, "%s = %s\n", f.Name, v)
	})
	for k := range values {
		if keys.Lookup(k) == nil {
			bad = errors.Join(bad, fmt.Errorf("unknown key %q", k))
		}
	}
	if bad != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, bad)
	}
	return b.Bytes(), nil
}

// commentLines is text as # comment lines of at most width characters
// (longer words stay whole).
func commentLines(text string, width int) string {
	var b strings.Builder
	line := "#"
	for _, w := range strings.Fields(text) {
		if len(line) > 1 && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	return b.String() + line + "\n"
}

// writeDriveConfig writes the configuration file at path (0600, its
// directory made 0700) from configTemplate; an existing file is replaced
// only with force.
func writeDriveConfig(path string, values map[string]string, force bool) error {
	data, err := configTemplate(values)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil && !force {
		return fmt.Errorf("%w: %s (edit it, or --force to replace it)", errConfigExists, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return service.WriteFileAtomic(path, data, 0o600)
}
