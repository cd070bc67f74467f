package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/mount"
	"github.com/shardrive/shardrive/service"
)

type mountOptions struct {
	driveOptions // also the configuration file's keys (cmd_daemon.go)
	daemon       bool
	logFile      string
	readyFD      int  // set by --daemon in the detached child
	service      bool // run by `shardrive daemon`: logs at info level, as a service's
}

func (o *mountOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	o.driveOptions.AddFlags(f)
	f.MarkHidden("mount") // the DIR argument; its default comes from the configuration file
	f.BoolVar(&o.daemon, "daemon", false, "run in the background: return once the mount is live (logs go to the home's daemon.log, or --log-file)")
	f.StringVar(&o.logFile, "log-file", "", "write the log to this file instead of stderr")
	f.IntVar(&o.readyFD, "ready-fd", 0, "descriptor to report the start on (internal, for --daemon)")
	f.MarkHidden("ready-fd")
}

func newMountCommand(g *globals) *cobra.Command {
	var o mountOptions
	cmd := &cobra.Command{
		Use:   "mount [flags] [DIR]",
		Short: "Mount the drive on DIR (foreground; Ctrl-C unmounts) or, with --daemon, in the background",
		Long: "Mount the drive on the empty directory DIR. The process owns the home while it runs: other\n" +
			"commands (status, sync, pin, unpin, cache clear, unmount) talk to it over the home's control socket.\n" +
			"Ctrl-C or SIGTERM unmounts cleanly (retrying while the mount is busy); a second signal exits at once,\n" +
			"losing nothing that was flushed: what is not uploaded yet uploads at the next mount.\n" +
			"Without DIR, the folder set by mount = DIR in the configuration file.",
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := o.mount
			if len(args) == 1 {
				dir = args[0]
			}
			if dir == "" {
				return fmt.Errorf("%w: mount takes DIR (or mount = DIR in %s)", errUsage, g.conf.path)
			}
			return runMount(cmd.Context(), g, o, dir)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func runMount(ctx context.Context, g *globals, o mountOptions, dir string) (err error) {
	var rep *reporter
	if o.readyFD > 0 {
		rep = newReporter(o.readyFD)
		defer func() { rep.fail(err) }()
	}
	var maxSize uint64
	if o.cacheMaxSize != "" {
		if maxSize, err = humanize.ParseBytes(o.cacheMaxSize); err != nil {
			return fmt.Errorf("%w: --cache-max-size %q: %w", errUsage, o.cacheMaxSize, err)
		}
	}
	if o.writeBack < 0 {
		return fmt.Errorf("%w: --write-back %v is negative", errUsage, o.writeBack)
	}
	h := g.home().service()
	if _, err := os.Stat(h.DBPath()); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s: %w (run shardrive init)", h.State, cache.ErrNotInitialized)
	}
	if err := alreadyMounted(ctx, h); err != nil {
		return err
	}
	if o.daemon && o.readyFD == 0 {
		return detach(ctx, g, o, dir)
	}

	log, closeLog, err := mountLogger(g, o)
	if err != nil {
		return err
	}
	defer closeLog()
	cfg := service.NewConfig(h, dir)
	cfg.CacheDir = o.cacheDir
	cfg.CacheMaxSize = int64(maxSize)
	cfg.Mount.AllowOther = o.allowOther
	cfg.Mount.ReadOnly = o.readOnly
	cfg.Uploader.Quiet = o.writeBack
	cfg.Backup.Delay = o.backupDelay
	cfg.Keeper.AuditInterval = o.auditInterval
	cfg.Keeper.SuspendOffline = o.suspendOffline
	cfg.Keeper.DisqualifyOffline = o.disqualifyOffline
	cfg.Metrics = o.metrics
	cfg.Logger = log

	// The first SIGINT, SIGTERM or SIGHUP stops the daemon cleanly; a
	// second one exits at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			hardExit(log, dir)
		case <-done:
		}
	}()

	d, err := service.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if rep != nil {
		rep.ready(d.MountDir())
	} else if !o.service {
		fmt.Fprintf(os.Stderr, "mounted %s (Ctrl-C to unmount)\n", d.MountDir())
	}
	err = d.Run(ctx)
	final := d.Final()
	if o.readyFD == 0 && !o.service {
		fmt.Fprintf(os.Stderr, "unmounted %s\n", d.MountDir())
		if final.QueuedFiles > 0 {
			fmt.Fprintf(os.Stderr, "%d files are not uploaded yet: they upload at the next mount (or run `shardrive sync --wait`)\n", final.QueuedFiles)
		}
	}
	return err
}

// hardExit leaves at once on a second signal. Everything flushed is in
// SQLite and the cache files; a lazy unmount keeps the dead mount from
// lingering.
func hardExit(log *slog.Logger, dir string) {
	log.Warn("second signal: exiting now; nothing flushed is lost, uploads resume at the next mount")
	if err := service.ForceUnmount(dir, true); err != nil {
		log.Warn("lazy unmount", "err", err)
	}
	os.Exit(exitError)
}

// alreadyMounted fails with ErrBusy if a daemon answers for home h.
func alreadyMounted(ctx context.Context, h service.Home) error {
	c := service.NewClient(h.SocketPath())
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil || st.Daemon == nil {
		return nil // no daemon, or none we can talk to: the home lock decides
	}
	return fmt.Errorf("%w: this home is already mounted on %s by pid %d", service.ErrBusy, st.Daemon.MountDir, st.Daemon.PID)
}

// mountLogger is the daemon's log: --log-file, else stderr (a detached
// daemon's stderr is its log file). A detached daemon logs at info level
// by default, a foreground one at warning level.
func mountLogger(g *globals, o mountOptions) (*slog.Logger, func(), error) {
	level := slog.LevelWarn
	if o.readyFD > 0 || o.service {
		level = slog.LevelInfo
	}
	switch {
	case g.verbose >= 3:
		level = mount.LevelTrace
	case g.verbose == 2:
		level = slog.LevelDebug
	case g.verbose == 1:
		level = slog.LevelInfo
	}
	var w io.Writer = os.Stderr
	closeLog := func() {}
	if o.logFile != "" && o.readyFD == 0 {
		f, err := os.OpenFile(o.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		w, closeLog = f, func() { f.Close() }
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), closeLog, nil
}

// reporter writes the start handshake of a detached daemon to its parent,
// once: ready, or the error that stopped the start.
type reporter struct{ f *os.File }

func newReporter(fd int) *reporter { return &reporter{f: os.NewFile(uintptr(fd), "ready")} }

func (r *reporter) send(line string) {
	if r == nil || r.f == nil {
		return
	}
	r.f.WriteString(line)
	r.f.Close()
	r.f = nil
}

func (r *reporter) ready(dir string) { r.send(service.FormatReady(os.Getpid(), dir)) }

func (r *reporter) fail(err error) {
	if err != nil {
		r.send(service.FormatStartError(exitCode(err), oneLine(err)))
	}
}

// maxDaemonLog is the size past which a detached daemon's log is rotated
// (to LOG.1) when the next daemon starts.
const maxDaemonLog = 8 << 20

// detach starts the daemon as a child in its own session with its output
// in the log file, and returns once the child reports the mount live.
func detach(ctx context.Context, g *globals, o mountOptions, dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	abs := func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		return filepath.Abs(p)
	}
	h := g.home()
	logPath := o.logFile
	if logPath == "" {
		logPath = h.service().LogPath()
	}
	if logPath, err = abs(logPath); err != nil {
		return err
	}
	if dir, err = abs(dir); err != nil {
		return err
	}
	cacheDir, err := abs(o.cacheDir)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxDaemonLog {
		os.Rename(logPath, logPath+".1")
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()

	var args []string
	env := os.Environ()
	if g.homeFlag != "" {
		hf, err := abs(g.homeFlag)
		if err != nil {
			return err
		}
		args = append(args, "--home", hf)
	} else if v := os.Getenv("SHARDRIVE_HOME"); v != "" {
		hf, err := abs(v)
		if err != nil {
			return err
		}
		env = append(env, "SHARDRIVE_HOME="+hf)
	}
	if g.conf.file != nil {
		args = append(args, "--config", g.conf.path) // absolute; the child sees what this one saw
	}
	for range g.verbose {
		args = append(args, "-v")
	}
	args = append(args, "mount", "--ready-fd", "3", "--write-back", o.writeBack.String(), "--backup-delay", o.backupDelay.String())
	args = append(args, o.keeperArgs()...)
	if o.allowOther {
		args = append(args, "--allow-other")
	}
	if o.readOnly {
		args = append(args, "--read-only")
	}
	if cacheDir != "" {
		args = append(args, "--cache-dir", cacheDir)
	}
	if o.cacheMaxSize != "" {
		args = append(args, "--cache-max-size", o.cacheMaxSize)
	}
	if o.metrics != "" {
		args = append(args, "--metrics", o.metrics)
	}
	args = append(args, "--", dir)

	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	child := exec.Command(exe, args...)
	child.Env = env
	child.Dir = "/" // hold no directory busy
	child.Stdout, child.Stderr = logf, logf
	child.ExtraFiles = []*os.File{w}
	child.SysProcAttr = detachedAttr()
	err = child.Start()
	w.Close()
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	exited := make(chan struct{})
	go func() { child.Wait(); close(exited) }()

	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 1)
	go func() {
		s, err := bufio.NewReaderSize(io.LimitReader(r, service.MaxHandshakeLine), service.MaxHandshakeLine).ReadString('\n')
		lines <- line{s, err}
	}()
	var l line
	select {
	case l = <-lines:
	case <-ctx.Done():
		child.Process.Signal(syscall.SIGTERM)
		return fmt.Errorf("interrupted while the daemon started (asked it to stop; see %s)", logPath)
	}
	if l.err != nil && l.s == "" {
		<-exited
		return fmt.Errorf("the daemon exited (%v) before mounting; see %s", child.ProcessState, logPath)
	}
	rep, err := service.ParseStartLine(l.s)
	if err != nil {
		return fmt.Errorf("daemon start: %w; see %s", err, logPath)
	}
	if !rep.OK {
		<-exited
		return &childError{msg: rep.Message, code: rep.Code}
	}
	fmt.Printf("mounted %s (daemon pid %d, log %s)\n", rep.MountDir, rep.PID, logPath)
	return nil
}

// childError is the error a detached daemon reported; it carries the
// daemon's exit code by matching the sentinels of that code.
type childError struct {
	msg  string
	code int
}

func (e *childError) Error() string { return e.msg }

func (e *childError) Is(target error) bool {
	for _, row := range exitTable {
		if row.code == e.code {
			return errors.Is(row.err, target)
		}
	}
	return false
}
