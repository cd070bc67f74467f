package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/promtext"
	"github.com/shardrive/shardrive/mount"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// Config is a daemon's settings. Start from NewConfig.
type Config struct {
	Home     Home
	MountDir string
	// CacheDir moves the local block cache (see OpenConfig.CacheDir).
	CacheDir string
	// CacheMaxSize is the local cache limit in bytes; 0: no limit. Dirty
	// blocks and pinned subtrees stay whatever the limit. The drive keeps
	// it as it writes (drive.Config.CacheMaxSize).
	CacheMaxSize int64
	Mount        mount.Options
	Uploader     syncer.UploaderConfig
	Backup       syncer.BackupConfig
	Keeper       syncer.KeeperConfig
	Network      netclient.NetworkConfig
	// ProbeEvery is how often the farmers are probed (so status shows them
	// up or down) and their figures saved.
	ProbeEvery time.Duration
	// FinalSyncTimeout bounds the upload round at stop; what it does not
	// finish uploads at the next start.
	FinalSyncTimeout time.Duration
	// UnmountRetry is the pause between unmount attempts while the mount
	// is busy at stop.
	UnmountRetry time.Duration
	// Metrics is the loopback host:port to serve Prometheus metrics on
	// (metrics.go); empty: none.
	Metrics string
	Logger  *slog.Logger
}

// NewConfig returns the defaults for home h mounted on dir.
func NewConfig(h Home, dir string) Config {
	return Config{
		Home:             h,
		MountDir:         dir,
		Mount:            daemonMountOptions(),
		Uploader:         syncer.NewUploaderConfig(),
		Backup:           syncer.NewBackupConfig(),
		Keeper:           syncer.NewKeeperConfig(),
		Network:          netclient.NewNetworkConfig(),
		ProbeEvery:       time.Minute,
		FinalSyncTimeout: 30 * time.Second,
		UnmountRetry:     time.Second,
		Logger:           slog.New(slog.DiscardHandler),
	}
}

// daemonMountOptions are the mount's defaults for the daemon. The daemon
// owns the home: every change reaches the drive through its mount, so the
// kernel may keep a file's pages between opens (KeepCache), which serves
// warm re-reads from the page cache.
func daemonMountOptions() mount.Options {
	o := mount.NewOptions()
	o.KeepCache = true
	return o
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Home.State == "":
		return errors.New("daemon: no home")
	case c.MountDir == "":
		return errors.New("daemon: no mount directory")
	case c.CacheMaxSize < 0:
		return fmt.Errorf("daemon: cache max size %d < 0", c.CacheMaxSize)
	case c.ProbeEvery <= 0 || c.UnmountRetry <= 0:
		return errors.New("daemon: probe and unmount-retry intervals must be > 0")
	case c.FinalSyncTimeout < 0:
		return errors.New("daemon: final sync timeout < 0")
	case c.Logger == nil:
		return errors.New("daemon: no logger")
	}
	if c.Metrics != "" {
		if err := promtext.CheckLoopback(c.Metrics); err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
	}
	if err := c.Mount.Validate(); err != nil {
		return err
	}
	b := c.Backup
	b.Logger = c.Logger
	if err := b.Validate(); err != nil {
		return err
	}
	if err := c.Keeper.Validate(); err != nil {
		return fmt.Errorf("daemon: keeper: %w", err)
	}
	u := c.Uploader
	u.Logger = c.Logger
	return u.Validate()
}

// Daemon owns a home while it runs: the drive mounted, uploads in the
// background, the control socket answering.
//
// Goroutines, each with its owner and stop path: the uploader and the
// metadata backup (the work: started by Start and by resume, stopped by
// pause or by cancelling bgCancel, waited for in shutdown), the
// maintenance loop (owned by Run, stopped by cancelling bgCancel and
// waited for in shutdown), the FUSE server (owned by mount.Mounted, ended
// by unmounting), the control server (ended by srv.Shutdown in shutdown),
// and a watcher that closes mountDone when serving ends.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	sess   *Session
	up     *syncer.Uploader
	backup *syncer.Backup
	keeper *syncer.Keeper
	m      *mount.Mounted
	sock   string // the control socket's path
	ln     net.Listener
	srv    *http.Server
	// metricsLn and metricsSrv serve the metrics; nil without Config.Metrics.
	metricsLn  net.Listener
	metricsSrv *http.Server
	started    time.Time
	// readOnly: mounted read-only (asked for), or the drive refuses
	// changes since another device took it over.
	readOnly atomic.Bool

	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup

	// pauseMu serializes pause and resume; it guards paused and
	// workCancel. Lock order: d.mu (shared, as a request) before pauseMu.
	pauseMu    sync.Mutex
	paused     bool
	workCancel context.CancelFunc
	work       sync.WaitGroup // the uploader and backup goroutines
	// lost: another device took the drive over; nothing more is uploaded.
	lost atomic.Bool

	mountDone chan struct{} // closed when the mount has ended
	mountErr  error         // why; written before mountDone closes

	// reqCtx ends the work of control requests when shutdown begins.
	reqCtx    context.Context
	reqCancel context.CancelFunc

	// mu guards closing. Requests hold it shared while they use the
	// session; shutdown takes it exclusively before closing the session.
	mu      sync.RWMutex
	closing bool

	finished chan struct{} // closed when shutdown is over but for the lock and socket
	final    UnmountReply  // written before finished closes

	stopOnce sync.Once
	stopErr  error
}

// Start opens the home (taking its exclusive lock), mounts the drive on
// cfg.MountDir and serves the control socket. It returns once the mount is
// live; Run then keeps it until it is asked to stop.
func Start(ctx context.Context, cfg Config) (_ *Daemon, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, started: time.Now(), mountDone: make(chan struct{}), finished: make(chan struct{}),
		sock: cfg.Home.listenSocketPath()}
	if cfg.Metrics != "" {
		// First: a taken or refused address fails before the home is touched.
		if d.metricsLn, err = listenMetrics(cfg.Metrics); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				d.metricsLn.Close()
			}
		}()
	}
	ocfg := NewOpenConfig()
	ocfg.Access = Exclusive
	ocfg.CacheDir = cfg.CacheDir
	ocfg.Network = cfg.Network
	ocfg.Drive.CacheMaxSize = cfg.CacheMaxSize
	ocfg.Logger = cfg.Logger
	if d.sess, err = Open(ctx, cfg.Home, ocfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if d.ln != nil {
				d.ln.Close()
				os.Remove(d.sock)
			}
			d.sess.Close(context.WithoutCancel(ctx))
		}
	}()
	ucfg := cfg.Uploader
	ucfg.Logger = cfg.Logger
	if d.up, err = d.sess.NewUploader(ctx, ucfg); err != nil {
		return nil, err
	}
	d.sess.Drive.SetUploads(d.up) // writes to a full cache wait for it
	bcfg := cfg.Backup
	bcfg.Logger = cfg.Logger
	if d.backup, err = d.sess.NewBackup(ctx, bcfg); err != nil {
		return nil, err
	}
	kcfg := cfg.Keeper
	kcfg.Logger = cfg.Logger
	if d.keeper, err = d.sess.NewKeeper(kcfg); err != nil {
		return nil, err
	}
	if err := d.keeper.ApplyStates(ctx); err != nil {
		return nil, err
	}
	mopts := cfg.Mount
	// A device that lost the drive to another must not write: say so and
	// mount read-only, so the files stay readable.
	lctx, lcancel := context.WithTimeout(ctx, 15*time.Second)
	lost := false
	if err := d.backup.CheckLease(lctx); IsLeaseLost(err) {
		d.log.Error("another device took over this drive: mounting read-only; nothing is uploaded", "err", err)
		mopts.ReadOnly = true
		d.sess.Drive.SetReadOnly(err)
		lost = true
	} else if err != nil {
		d.log.Warn("could not check the drive's writer lease on the farmers; the next backup will", "err", err)
	}
	lcancel()
	d.readOnly.Store(mopts.ReadOnly)
	// Holding the home's lock, no other daemon of it runs: a socket of it
	// in the other place (a daemon that died without a runtime directory,
	// or with one) is stale, and would be found first.
	if other := cfg.Home.stateSocketPath(); other != d.sock {
		if err := os.Remove(other); err == nil {
			d.log.Info("removed a stale control socket", "path", other)
		}
	}
	if d.ln, err = listenControl(d.sock); err != nil {
		return nil, err
	}
	if cleared, err := ClearStaleMount(cfg.MountDir); err != nil {
		return nil, fmt.Errorf("a dead mount is left on %s and could not be removed: %w", cfg.MountDir, err)
	} else if cleared {
		d.log.Info("removed the dead mount a stopped daemon left", "dir", cfg.MountDir)
	}
	mopts.Logger = cfg.Logger
	if d.m, err = mount.Mount(ctx, cfg.MountDir, d.sess.Drive, mopts); err != nil {
		return nil, err
	}
	go func() {
		d.mountErr = d.m.Wait()
		close(d.mountDone)
	}()

	d.bgCtx, d.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	d.reqCtx, d.reqCancel = context.WithCancel(context.WithoutCancel(ctx))
	d.lost.Store(lost)
	d.startWork()
	d.bg.Go(func() { d.maintain(d.bgCtx) })
	d.srv = newControlServer(d, uint32(os.Getuid()), cfg.Logger)
	go d.srv.Serve(d.ln) // returns ErrServerClosed after Shutdown
	if d.metricsLn != nil {
		d.metricsSrv = newMetricsServer(d)
		go d.metricsSrv.Serve(d.metricsLn) // returns ErrServerClosed after Close
		d.log.Info("serving metrics", "addr", d.metricsLn.Addr().String())
	}
	d.log.Info("daemon started", "pid", os.Getpid(), "mount", d.m.Dir(), "cache", d.sess.CacheDir, "control", d.sock)
	return d, nil
}

// startWork starts the uploader and the metadata backup, unless another
// device took the drive over: uploads and backups stop for good then, as
// what this device would store now no root of the drive will ever name.
// Caller holds pauseMu, or is Start.
func (d *Daemon) startWork() {
	if d.lost.Load() {
		return
	}
	ctx, cancel := context.WithCancel(d.bgCtx)
	d.workCancel = cancel
	upCtx, upCancel := context.WithCancel(ctx)
	d.work.Go(func() { d.up.Run(upCtx) })
	d.work.Go(func() { d.keeper.Run(ctx) })
	d.work.Go(func() {
		defer upCancel()
		d.backup.Run(ctx)
		if ctx.Err() != nil {
			return
		}
		if err := d.sess.CheckWriter(ctx); err != nil {
			d.log.Error("another device took over this drive: it is read-only from now on, and nothing more is uploaded", "err", err)
			d.sess.Drive.SetReadOnly(err)
			d.readOnly.Store(true)
			d.lost.Store(true)
		}
	})
}

// stopWork stops what startWork started and waits for it. Caller holds
// pauseMu.
func (d *Daemon) stopWork() {
	if d.workCancel != nil {
		d.workCancel()
		d.workCancel = nil
	}
	d.work.Wait()
}

// pause stops (paused) or restarts the daemon's network traffic; see
// pause.go for what a pause means.
func (d *Daemon) pause(ctx context.Context, paused bool) (PauseReply, error) {
	_, leave, err := d.enter(ctx)
	if err != nil {
		return PauseReply{}, err
	}
	defer leave()
	d.pauseMu.Lock()
	defer d.pauseMu.Unlock()
	if d.paused == paused {
		return PauseReply{Paused: paused}, nil
	}
	d.paused = paused
	if paused {
		d.sess.gate.setPaused(true) // first: cuts the calls in flight short
		d.stopWork()
		// A write that finds the cache full of changes fails at once
		// (ENOSPC) instead of waiting for uploads that do not run.
		d.sess.Drive.SetUploads(nil)
		d.log.Info("network traffic paused: nothing is uploaded, backed up or fetched until resume")
	} else {
		d.sess.gate.setPaused(false)
		d.sess.Drive.SetUploads(d.up)
		d.startWork()
		d.up.Kick()
		d.backup.Kick()
		d.log.Info("network traffic resumed")
	}
	return PauseReply{Paused: paused, Changed: true}, nil
}

// Final is how the daemon stopped: valid once Run has returned.
func (d *Daemon) Final() UnmountReply {
	select {
	case <-d.finished:
		return d.final
	default:
		return UnmountReply{}
	}
}

// MountDir is the mount point, absolute and without symlinks.
func (d *Daemon) MountDir() string { return d.m.Dir() }

// Run keeps the daemon until ctx ends (a signal) or the mount ends (the
// control socket's unmount, or fusermount3 -u from outside), then stops:
// unmount, retried for as long as the mount is busy (each failure logged
// with the processes that hold it; a caller that must leave at once exits
// the process: every byte flushed so far is safe), flush, a last upload
// round of at most FinalSyncTimeout, close, release the home.
func (d *Daemon) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
		d.log.Info("stopping: unmounting", "dir", d.m.Dir())
		d.unmountRetrying()
	case <-d.mountDone:
	}
	return d.shutdown()
}

// unmountRetrying unmounts, trying again while the mount is busy, until
// the mount has ended.
func (d *Daemon) unmountRetrying() {
	for {
		err := d.m.Unmount()
		if err == nil {
			<-d.mountDone
			return
		}
		if errors.Is(err, mount.ErrBusy) {
			d.log.Warn("mount busy: close what uses it (or send a second signal to exit now; nothing flushed is lost)",
				"dir", d.m.Dir(), "holders", describeHolders(d.m.Dir()))
		} else {
			d.log.Warn("unmount failed; trying again", "dir", d.m.Dir(), "err", err)
		}
		select {
		case <-d.mountDone:
			return
		case <-time.After(d.cfg.UnmountRetry):
		}
	}
}

// shutdown stops everything after the mount has ended. It runs once.
func (d *Daemon) shutdown() error {
	d.stopOnce.Do(func() { d.stopErr = d.doShutdown() })
	return d.stopErr
}

func (d *Daemon) doShutdown() error {
	ctx := context.Background()
	if d.mountErr != nil {
		d.log.Warn("mount ended with an error", "err", d.mountErr)
	}
	d.log.Info("unmounted; stopping", "dir", d.m.Dir())
	if d.metricsSrv != nil {
		d.metricsSrv.Close() // scrapes are short; none is worth waiting for
	}
	d.reqCancel()
	d.mu.Lock() // waits for requests using the session
	d.closing = true
	d.mu.Unlock()
	d.bgCancel()
	d.bg.Wait()
	d.work.Wait() // its context ends with bgCancel's; no resume starts more once closing

	var errs []error
	if err := d.sess.Drive.FlushAll(ctx); err != nil {
		errs = append(errs, fmt.Errorf("flush open files: %w", err))
	}
	d.final.MountDir = d.m.Dir()
	if lost := d.sess.CheckWriter(ctx); lost != nil {
		d.final.SyncError = lost.Error()
	} else if d.sess.gate.isPaused() {
		d.final.SyncError = fmt.Errorf("no last upload round: %w", ErrPaused).Error()
		d.log.Info("stopping while paused: no last upload round; what is queued uploads at the next start")
	} else if d.cfg.FinalSyncTimeout > 0 {
		d.log.Info("last upload round", "at_most", d.cfg.FinalSyncTimeout)
		if err := syncWithin(ctx, d.up, d.backup.Release, d.sess.Drive, d.cfg.FinalSyncTimeout); err != nil {
			d.final.SyncError = err.Error()
			d.log.Warn("last upload round did not finish; the rest uploads at the next start", "err", err)
		}
	}
	if err := d.sess.DB.View(ctx, func(tx *cache.Tx) (err error) {
		d.final.QueuedFiles, err = tx.PendingUploads()
		return err
	}); err != nil {
		errs = append(errs, err)
	}
	if d.final.QueuedFiles > 0 {
		d.log.Warn("files still queued for upload at stop; they upload at the next start", "files", d.final.QueuedFiles)
	}
	d.sess.closeData(ctx)
	close(d.finished)

	// Let an unmount request answer, then stop serving.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := d.srv.Shutdown(sctx); err != nil {
		d.srv.Close()
	}
	cancel()
	if err := os.Remove(d.sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	d.sess.lock.Unlock()
	d.log.Info("daemon stopped", "queued_files", d.final.QueuedFiles)
	if d.mountErr != nil {
		errs = append(errs, fmt.Errorf("mount: %w", d.mountErr))
	}
	return errors.Join(errs...)
}

// maintain probes the farmers until ctx ends. (The cache limit needs no
// loop: the drive keeps it as it writes.)
func (d *Daemon) maintain(ctx context.Context) {
	d.probe(ctx)
	probe := time.NewTicker(d.cfg.ProbeEvery)
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-probe.C:
			d.probe(ctx)
		}
	}
}

// probe asks every farmer for a sign of life and saves what was measured;
// not while paused.
func (d *Daemon) probe(ctx context.Context) {
	if d.sess.gate.isPaused() {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	d.sess.Net.Probe(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err := d.sess.SaveFarmerStats(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("save farmer figures", "err", err)
	}
}

// enter admits a control request that uses the session; leave ends it.
// The request's work gets a context that also ends when shutdown begins.
func (d *Daemon) enter(ctx context.Context) (context.Context, func(), error) {
	d.mu.RLock()
	if d.closing {
		d.mu.RUnlock()
		return nil, nil, ErrStopping
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(d.reqCtx, cancel)
	return ctx, func() { stop(); cancel(); d.mu.RUnlock() }, nil
}

// stopped turns an error of a request cut short by shutdown into
// ErrStopping.
func (d *Daemon) stopped(err error) error {
	if err != nil && d.reqCtx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrStopping, err)
	}
	return err
}

func (d *Daemon) status(ctx context.Context) (Status, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return Status{}, err
	}
	defer leave()
	st, err := d.sess.status(ctx, d.up)
	st.Daemon = &DaemonStatus{PID: os.Getpid(), MountDir: d.m.Dir(), ReadOnly: d.readOnly.Load(), Started: d.started.UTC(),
		Paused: d.sess.gate.isPaused()}
	if err == nil {
		var bs syncer.BackupStatus
		bs, err = d.backup.Status(ctx)
		st.Backup = NewBackupStatus(bs)
	}
	st.Cache.MaxBytes = d.cfg.CacheMaxSize
	return st, d.stopped(err)
}

func (d *Daemon) sync(ctx context.Context, req SyncRequest) (SyncReply, error) {
	if err := d.sess.CheckWriter(ctx); err != nil {
		return SyncReply{}, err // nothing this device stores would be named by a root
	}
	if d.sess.gate.isPaused() {
		return SyncReply{}, fmt.Errorf("sync: %w", ErrPaused)
	}
	if !req.Wait {
		d.up.Kick()
		// The background round keeps the quiet period; an explicit sync
		// without waiting still wants everything now, so run one in the
		// background, owned by bg (shutdown waits for it).
		ctx, leave, err := d.enter(context.WithoutCancel(ctx))
		if err != nil {
			return SyncReply{}, err
		}
		d.bg.Go(func() {
			defer leave()
			if err := syncWithin(ctx, d.up, d.backup.Round, d.sess.Drive, 0); err != nil && ctx.Err() == nil {
				d.log.Warn("sync", "err", err)
			}
		})
		var rep SyncReply
		err = d.sess.DB.View(ctx, func(tx *cache.Tx) (err error) {
			rep.QueuedFiles, err = tx.PendingUploads()
			return err
		})
		return rep, err
	}
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return SyncReply{}, err
	}
	defer leave()
	err = syncWithin(ctx, d.up, d.backup.Round, d.sess.Drive, time.Duration(req.TimeoutMS)*time.Millisecond)
	var rep SyncReply
	if qerr := d.sess.DB.View(context.WithoutCancel(ctx), func(tx *cache.Tx) (err error) {
		rep.QueuedFiles, err = tx.PendingUploads()
		return err
	}); err == nil {
		err = qerr
	}
	return rep, d.stopped(err)
}

func (d *Daemon) pin(ctx context.Context, p string, pin bool) error {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if pin {
		err = d.sess.Drive.Pin(ctx, p)
	} else {
		err = d.sess.Drive.Unpin(ctx, p)
	}
	return d.stopped(err)
}

func (d *Daemon) fileStatus(ctx context.Context, p string) (FileStatus, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return FileStatus{}, err
	}
	defer leave()
	st, err := d.sess.FileStatus(ctx, p)
	return st, d.stopped(err)
}

func (d *Daemon) clearCache(ctx context.Context) (ClearReply, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return ClearReply{}, err
	}
	defer leave()
	var rep ClearReply
	rep.Dropped, rep.Kept, err = d.sess.Drive.ClearCache(ctx)
	if err != nil {
		return rep, d.stopped(err)
	}
	// The kernel keeps file pages between opens (KeepCache): drop those
	// too, so that the next reads really come from the farmers.
	var inos []int64
	if err := d.sess.DB.View(ctx, func(tx *cache.Tx) (err error) { inos, err = tx.FileInos(); return err }); err != nil {
		return rep, d.stopped(err)
	}
	for _, ino := range inos {
		if err := d.m.InvalidateNode(uint64(ino)); err != nil {
			d.log.Warn("could not drop a file's pages from the kernel", "ino", ino, "err", err)
		}
	}
	return rep, nil
}

// unmount tries once (with the mount's own short retries) to unmount; if
// the mount is busy it stays up and the error names who holds it. Once it
// is gone, the answer waits for the rest of the stop.
func (d *Daemon) unmount(ctx context.Context) (UnmountReply, error) {
	_, leave, err := d.enter(ctx)
	if err != nil {
		return UnmountReply{}, err
	}
	err = d.m.Unmount()
	leave()
	if err != nil {
		if errors.Is(err, mount.ErrBusy) {
			return UnmountReply{}, fmt.Errorf("%w: %s %s", mount.ErrBusy, d.m.Dir(), describeHolders(d.m.Dir()))
		}
		return UnmountReply{}, err
	}
	select {
	case <-d.finished:
		return d.final, nil
	case <-ctx.Done():
		return UnmountReply{}, ctx.Err()
	}
}

// ResolveMountDir returns dir absolute and without symlinks, as the
// daemon reports it. A dead mount (ENOTCONN) resolves without following
// its last element.
func ResolveMountDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return abs, nil
	}
	return filepath.Join(parent, filepath.Base(abs)), nil
}
