package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shardrive/shardrive/service/conffile"
)

// The farmer's configuration file is DIR/config, in its data directory
// (format: package conffile; docs/format/control.md). Its keys are the
// flags of `shardfarmer run` (listen, advertise, region, capacity,
// account-quota, max-shard-size, log-level, log-format, and whatever run
// gains), but for dir, which names where the file is. A flag given on the command line
// wins over the file; the file wins over the defaults.

// notConfigKeys are flags of run that the file does not set.
var notConfigKeys = map[string]bool{"dir": true, "cpuprofile": true, "check": true, "run-as": true, "help": true, "version": true}

// sizeKeys are the keys whose values are sizes (string flags, checked
// later, where a mistake could not name its line).
var sizeKeys = map[string]bool{"capacity": true, "account-quota": true, "max-shard-size": true}

// configPath is the configuration file of the data directory dir.
func configPath(dir string) string { return filepath.Join(dir, "config") }

// isConfigKey reports whether flag name of fs is a key of the file.
func isConfigKey(fs *pflag.FlagSet, name string) bool {
	return fs.Lookup(name) != nil && !notConfigKeys[name]
}

// applyConfig reads DIR/config, if there is one, and gives its values to
// the flags of cmd that the command line left alone.
func applyConfig(cmd *cobra.Command, dir string) error {
	fs := cmd.Flags()
	f, err := conffile.Read(configPath(dir), func(k string) bool { return isConfigKey(fs, k) })
	if conffile.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: config: %w", errUsage, err)
	}
	for _, e := range f.Entries {
		fl := fs.Lookup(e.Key)
		if e.Value == "" || fl.Changed {
			continue
		}
		if sizeKeys[e.Key] {
			if _, err := humanize.ParseBytes(e.Value); err != nil {
				return fmt.Errorf("%w: config: %s:%d: %s %q: want a size such as 500MiB or 20GiB", errUsage, f.Path, e.Line, e.Key, e.Value)
			}
		}
		if err := fl.Value.Set(e.Value); err != nil {
			return fmt.Errorf("%w: config: %s:%d: %s %q: %w", errUsage, f.Path, e.Line, e.Key, e.Value, err)
		}
	}
	return nil
}

// configOrder puts the keys an operator sets first in the template.
var configOrder = []string{"listen", "advertise", "region", "capacity", "account-quota", "max-shard-size"}

// configTemplate is a commented configuration file listing every key of
// fs with its help and default, commented out.
func configTemplate(fs *pflag.FlagSet) []byte {
	var b bytes.Buffer
	b.WriteString(`# Shardrive farmer configuration, read by "shardfarmer run --dir DIR"
# from DIR/config. Flags given to shardfarmer run override it.
#
# One "key = value" per line; a line starting with # is a comment (not
# after a value). An empty value, or a key left out, means the default.
# Sizes take forms such as 500MiB, 20GiB or 1.5TB.
version = 1
`)
	var keys []string
	fs.VisitAll(func(f *pflag.Flag) {
		if isConfigKey(fs, f.Name) && !f.Hidden {
			keys = append(keys, f.Name)
		}
	})
	slices.SortStableFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(configOrder, a), slices.Index(configOrder, b)
		if ia < 0 {
			ia = len(configOrder)
		}
		if ib < 0 {
			ib = len(configOrder)
		}
		return ia - ib
	})
	for _, k := range keys {
		f := fs.Lookup(k)
		fmt.Fprintf(&b, "\n# %s\n%s\n", f.Usage, strings.TrimSpace(fmt.Sprintf("#%s = %s", k, f.DefValue)))
	}
	return b.Bytes()
}

// writeConfig sets the flags of cmd given on the command line (keys of the
// file only) in DIR/config, made from the template if missing; the rest of
// an existing file stays as it is.
func writeConfig(cmd *cobra.Command, dir string) (string, error) {
	path := configPath(dir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = configTemplate(cmd.Flags()), nil
	}
	if err != nil {
		return path, err
	}
	var setErr error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if !isConfigKey(cmd.Flags(), f.Name) || setErr != nil {
			return
		}
		data, setErr = conffile.Set(data, f.Name, f.Value.String())
	})
	if setErr != nil {
		return path, fmt.Errorf("%w: %s: %w", errUsage, path, setErr)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return path, err
	}
	return path, os.Rename(tmp, path)
}
