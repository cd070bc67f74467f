package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/service"
	"github.com/shardrive/shardrive/service/conffile"
	"github.com/shardrive/shardrive/service/system"
	"github.com/shardrive/shardrive/syncer"
)

// setup is the first run in one command: create or recover the drive (the
// code of init and init --recover), write the configuration file, install
// and start the user service. On a terminal it asks; with --create or
// --recover it asks nothing, and recovery words come on stdin (never argv,
// where other local users could read them).

// Defaults setup offers for what the configuration file leaves unset.
const (
	setupDefaultMount = "~/Shardrive"
	setupDefaultCache = "10GiB"
	// setupTries bounds every question asked again after a wrong answer.
	setupTries = 3
	// setupChecks is how many of the words setup asks back.
	setupChecks = 3
)

var (
	// errWordsNotConfirmed: a word asked back was wrong setupTries times.
	errWordsNotConfirmed = errors.New("the words were not confirmed")
	// errNoAnswer: the terminal closed (or Ctrl-D) before an answer.
	errNoAnswer = errors.New("no answer: input closed")
)

type setupOptions struct {
	initOptions
	create       bool
	mount        string
	cacheMaxSize string
	noService    bool
}

func newSetupCommand(g *globals) *cobra.Command {
	var o setupOptions
	cmd := &cobra.Command{
		Use:   "setup | setup --create --farmers A,B,... | setup --recover --farmers ADDR < words.txt",
		Short: "First run: create or recover the drive, write the configuration file, install the service",
		Long: "On a terminal, setup asks whether to create a drive or recover one, shows a new drive's 24 words\n" +
			"numbered and asks for three of them back, asks the mount folder and cache size, writes them to\n" +
			"the configuration file and installs and starts the user service (shardrive service install).\n" +
			"With --create or --recover it asks nothing: --create prints the mnemonic line as init does;\n" +
			"--recover reads the 24 words on stdin. Where no service manager runs (a container) setup still\n" +
			"succeeds and says to run `shardrive daemon` instead.",
		// Read in runSetup: setup may create the file --config names.
		Annotations: map[string]string{skipConfig: "yes"},
		Args:        exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			delete(cmd.Annotations, skipConfig)
			if _, err := os.Stat(g.conf.path); err == nil || g.conf.flag == "" {
				if err := g.loadConfig(cmd); err != nil {
					return err
				}
			}
			return runSetup(cmd, o, g)
		},
	}
	o.initOptions.AddFlags(cmd)
	f := cmd.Flags()
	f.BoolVar(&o.create, "create", false, "create a new drive on --farmers without asking anything")
	f.StringVar(&o.mount, "mount", "", "folder the service mounts the drive on (default "+setupDefaultMount+")")
	f.StringVar(&o.cacheMaxSize, "cache-max-size", "", "local cache limit (default "+setupDefaultCache+")")
	f.BoolVar(&o.noService, "no-service", false, "do not install the service (start `shardrive daemon` yourself)")
	return cmd
}

func runSetup(cmd *cobra.Command, o setupOptions, g *globals) error {
	ctx := cmd.Context()
	if o.create && o.recover {
		return fmt.Errorf("%w: --create or --recover, not both", errUsage)
	}
	if o.create && (o.takeOver || o.keepOwners) {
		return fmt.Errorf("%w: --take-over and --keep-owners go with --recover", errUsage)
	}
	// Values from the configuration file (loaded into the flags) are the
	// defaults offered; past that, setup's own.
	mount := cmp.Or(o.mount, setupDefaultMount)
	cacheSize := cmp.Or(o.cacheMaxSize, setupDefaultCache)

	if o.create || o.recover {
		// Check everything before the drive is made, so that a typo
		// does not leave a drive without its configuration.
		var err error
		if mount, err = setupMountPath(mount); err != nil {
			return fmt.Errorf("%w: --mount: %w", errUsage, err)
		}
		if err := checkSize(cacheSize); err != nil {
			return fmt.Errorf("%w: --cache-max-size: %w", errUsage, err)
		}
		if o.create {
			err = runInit(ctx, o.initOptions, g)
		} else {
			err = runRecover(ctx, o.initOptions, g, cmd.InOrStdin())
		}
		if err != nil {
			return err
		}
		return finishSetup(cmd, o, g, os.Stderr, mount, cacheSize)
	}

	if !isTerminal(os.Stdin) {
		return fmt.Errorf("%w: setup asks its questions on a terminal; without one give --create or --recover (see shardrive setup --help)", errUsage)
	}
	p := newPrompter(ctx, os.Stdin, os.Stderr)
	fmt.Fprintln(p.out, "Shardrive setup. Ctrl-C stops it.")
	create, err := p.choose("Create a new drive, or recover one from its 24 words?", "create", "recover")
	if err != nil {
		return err
	}
	if create == "create" {
		if o.takeOver || o.keepOwners {
			return fmt.Errorf("%w: --take-over and --keep-owners go with recovering a drive", errUsage)
		}
		err = setupCreate(ctx, p, o.initOptions, g)
	} else {
		err = setupRecover(ctx, p, o.initOptions, g)
	}
	if err != nil {
		return err
	}
	mount, err = p.askValid("Folder to mount the drive on", mount, setupMountPath)
	if err != nil {
		return err
	}
	cacheSize, err = p.askValid("Local cache size limit (blocks beyond it are evicted once uploaded)", cacheSize, func(s string) (string, error) {
		return s, checkSize(s)
	})
	if err != nil {
		return err
	}
	return finishSetup(cmd, o, g, p.out, mount, cacheSize)
}

// setupCreate is init on a terminal: the words are shown numbered and
// three of them asked back, so that a drive is not set up whose only key
// was not written down.
func setupCreate(ctx context.Context, p *prompter, o initOptions, g *globals) error {
	var mnemonic, created string
	for try := 1; ; try++ {
		if len(o.farmers) == 0 || try > 1 {
			ans, err := p.ask(fmt.Sprintf("Farmer addresses, comma-separated (nodeid@host:port; at least %d)", o.dataShards+o.parityShards), "")
			if err != nil {
				return err
			}
			o.farmers = strings.Split(ans, ",")
		}
		var err error
		mnemonic, created, err = createDrive(ctx, o, g)
		if err == nil {
			break
		}
		if try == setupTries || !retryFarmers(err) {
			return err
		}
		fmt.Fprintf(p.out, "%s\n", oneLine(err))
	}
	words := strings.Fields(mnemonic)
	fmt.Fprintf(p.out, "\nThe drive's 24 words. Write them down, in order, and keep them safe: they are shown only\n"+
		"this once, they are the only way to recover the drive on another machine, and anyone who has\nthem can read it.\n\n")
	showWords(p.out, words)
	fmt.Fprintln(p.out)
	positions := rand.Perm(len(words))[:setupChecks]
	slices.Sort(positions)
	for _, i := range positions {
		ok := false
		for try := 1; try <= setupTries && !ok; try++ {
			ans, err := p.ask(fmt.Sprintf("Word %d", i+1), "")
			if err != nil {
				return err
			}
			if ok = strings.EqualFold(strings.TrimSpace(ans), words[i]); !ok {
				fmt.Fprintf(p.out, "That is not word %d; look again at what you wrote down.\n", i+1)
			}
		}
		if !ok {
			h := g.home().state
			return fmt.Errorf("%w: word %d was wrong %d times. The drive exists in %s but is not set up further "+
				"(no configuration file, no service). It holds nothing yet: delete %s and run shardrive setup again "+
				"for new words, or if you have them right after all, finish with shardrive config init --mount DIR "+
				"and shardrive service install", errWordsNotConfirmed, i+1, setupTries, h, h)
		}
	}
	fmt.Fprintf(p.out, "Words confirmed. %s\n", created)
	return nil
}

// setupRecover is init --recover on a terminal: the words are typed here
// (never argv), asked again while they do not form a valid mnemonic.
func setupRecover(ctx context.Context, p *prompter, o initOptions, g *globals) error {
	var mnemonic string
	for try := 1; ; try++ {
		fmt.Fprintln(p.out, "Type the drive's 24 words, on one line or several:")
		var words []string
		for len(words) < crypto.MnemonicWords {
			line, err := p.line()
			if err != nil {
				return err
			}
			words = append(words, strings.Fields(line)...)
		}
		var err error
		mnemonic, err = crypto.NormalizeMnemonic(strings.Join(words, " "))
		if err == nil {
			break
		}
		if try == setupTries {
			return err
		}
		fmt.Fprintf(p.out, "%s\n", oneLine(err))
	}
	for try := 1; ; try++ {
		if len(o.farmers) == 0 || try > 1 {
			ans, err := p.ask("Address of a farmer of the drive (nodeid@host:port; several comma-separated)", "")
			if err != nil {
				return err
			}
			o.farmers = strings.Split(ans, ",")
		}
		err := runRecover(ctx, o, g, strings.NewReader(mnemonic))
		if err == nil {
			return nil
		}
		if try == setupTries || !retryFarmers(err) {
			return err
		}
		fmt.Fprintf(p.out, "%s\n", oneLine(err))
	}
}

// retryFarmers says whether err is worth asking the farmer addresses
// again: one did not parse or did not answer.
func retryFarmers(err error) bool {
	return errors.Is(err, errUsage) || errors.Is(err, syncer.ErrUnavailable)
}

// showWords prints the words numbered 1..24 in four columns, numbered down
// each column as on a paper form.
func showWords(w io.Writer, words []string) {
	const cols = 4
	rows := (len(words) + cols - 1) / cols
	for r := range rows {
		var line strings.Builder
		for c := range cols {
			if i := c*rows + r; i < len(words) {
				fmt.Fprintf(&line, "  %2d. %-10s", i+1, words[i])
			}
		}
		fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
	}
}

// finishSetup writes the configuration file and installs the service.
func finishSetup(cmd *cobra.Command, o setupOptions, g *globals, out io.Writer, mount, cacheSize string) error {
	values := map[string]string{"mount": mount, "cache-max-size": cacheSize}
	if cmd.Flags().Changed("home") {
		abs, err := filepath.Abs(g.home().state)
		if err != nil {
			return err
		}
		values["home"] = abs
	}
	path := g.conf.path
	if err := writeSetupConfig(path, values); err != nil {
		return fmt.Errorf("the drive is ready, but the configuration file is not: %w", err)
	}
	fmt.Fprintf(out, "wrote %s: mount = %s, cache-max-size = %s\n", path, mount, cacheSize)
	// The service checks the file it will run with: read it again.
	if err := g.loadConfig(cmd); err != nil {
		return err
	}
	daemon := "shardrive"
	if g.conf.flag != "" {
		daemon += " --config " + g.conf.path
	}
	if values["home"] != "" {
		daemon += " --home " + values["home"]
	}
	daemon += " daemon"
	if o.noService {
		fmt.Fprintf(out, "service not installed (--no-service): run `%s` to mount the drive on %s, or `shardrive service install` later\n", daemon, mount)
		return nil
	}
	err := runServiceInstall(cmd, g, serviceOptions{})
	if errors.Is(err, system.ErrNoManager) {
		// Not a failure of setup: the drive and its configuration are
		// ready, and in a container the daemon runs in the foreground.
		fmt.Fprintf(out, "the service could not be installed: %s\nrun `%s` to mount the drive on %s\n", system.ErrNoManager, daemon, mount)
		return nil
	}
	if err != nil {
		return fmt.Errorf("the drive and %s are ready, but the service was not installed (retry: shardrive service install): %w", path, err)
	}
	return nil
}

// writeSetupConfig sets values in the configuration file at path: a new
// file is the commented template; in an existing one only these keys
// change, its other lines and comments stay.
func writeSetupConfig(path string, values map[string]string) error {
	// The template checks every value as the daemon will read it.
	if _, err := configTemplate(values); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return writeDriveConfig(path, values, false)
	}
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if data, err = conffile.Set(data, k, values[k]); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return service.WriteFileAtomic(path, data, 0o600)
}

// setupMountPath is the mount folder as the configuration file takes it:
// absolute, a leading ~/ expanded.
func setupMountPath(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty folder")
	}
	if rest, ok := strings.CutPrefix(p, "~/"); ok || p == "~" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		p = filepath.Join(home, rest)
	}
	return filepath.Abs(p)
}

func checkSize(s string) error {
	if _, err := humanize.ParseBytes(s); err != nil {
		return fmt.Errorf("%q is not a size such as %s", s, setupDefaultCache)
	}
	return nil
}

// prompter asks questions on a terminal. Lines are read by a goroutine so
// that Ctrl-C (which cancels ctx) ends a question instead of leaving the
// command blocked in a read; the goroutine ends with the process.
type prompter struct {
	ctx   context.Context
	out   io.Writer
	lines chan lineOrErr
}

type lineOrErr struct {
	line string
	err  error
}

func newPrompter(ctx context.Context, in io.Reader, out io.Writer) *prompter {
	p := &prompter{ctx: ctx, out: out, lines: make(chan lineOrErr)}
	go func() {
		r := bufio.NewReader(in)
		for {
			line, err := r.ReadString('\n')
			if err != nil && line == "" {
				p.lines <- lineOrErr{err: err}
				return
			}
			p.lines <- lineOrErr{line: strings.TrimRight(line, "\r\n")}
		}
	}()
	return p
}

// line reads the next line typed.
func (p *prompter) line() (string, error) {
	select {
	case <-p.ctx.Done():
		fmt.Fprintln(p.out)
		return "", p.ctx.Err()
	case l := <-p.lines:
		if errors.Is(l.err, io.EOF) {
			return "", errNoAnswer
		}
		return l.line, l.err
	}
}

// ask shows the question (and the default an empty answer takes) and
// returns the answer, trimmed.
func (p *prompter) ask(question, def string) (string, error) {
	for {
		if def != "" {
			fmt.Fprintf(p.out, "%s [%s]: ", question, def)
		} else {
			fmt.Fprintf(p.out, "%s: ", question)
		}
		ans, err := p.line()
		if err != nil {
			return "", err
		}
		ans = strings.TrimSpace(ans)
		if ans == "" {
			ans = def
		}
		if ans != "" {
			return ans, nil
		}
	}
}

// askValid asks until check accepts the answer (setupTries times at most)
// and returns what check made of it.
func (p *prompter) askValid(question, def string, check func(string) (string, error)) (string, error) {
	for try := 1; ; try++ {
		ans, err := p.ask(question, def)
		if err != nil {
			return "", err
		}
		v, err := check(ans)
		if err == nil {
			return v, nil
		}
		if try == setupTries {
			return "", fmt.Errorf("%w: %w", errUsage, err)
		}
		fmt.Fprintf(p.out, "%s\n", oneLine(err))
	}
}

// choose asks for one of the options (a prefix will do); the first is the
// default.
func (p *prompter) choose(question string, options ...string) (string, error) {
	return p.askValid(fmt.Sprintf("%s (%s)", question, strings.Join(options, "/")), options[0], func(s string) (string, error) {
		s = strings.ToLower(s)
		for _, o := range options {
			if strings.HasPrefix(o, s) {
				return o, nil
			}
		}
		return "", fmt.Errorf("answer %s", strings.Join(options, " or "))
	})
}
