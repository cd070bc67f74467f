package farmer

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Files and directories inside the data directory.
const (
	indexFile = "farmer.db"
	lockFile  = "lock"
	shardsDir = "shards"
)

// ErrClosed reports a call on a Farmer that was shut down.
var ErrClosed = errors.New("farmer: closed")

// Farmer is a storage node: it owns a data directory and serves the HTTP
// API over TLS on the listeners given to Serve.
type Farmer struct {
	cfg      Config
	log      *slog.Logger
	key      ed25519.PrivateKey
	id       format.NodeID
	tls      *tls.Config
	lock     *dirLock
	index    *index
	store    store
	verifier *format.Verifier
	space    *space
	mem      *semaphore.Weighted // shard bytes held by requests in flight
	keys     keyLocks            // one per (account, shard root)
	roots    keyLocks            // one per account (zero root): root record writers
	egress   egress
	gate     gate
	requests requestCounts // answered requests, for metrics

	mu         sync.Mutex // guards srv, metricsSrv, addr, closed
	srv        *http.Server
	metricsSrv *http.Server // ServeMetrics' server, if any
	addr       format.Address
	closed     bool

	stopping  chan struct{} // closed when Shutdown starts
	stopFlush chan struct{} // closed by Shutdown to stop flushLoop
	flushDone chan struct{} // closed when flushLoop returned

	closeOnce sync.Once
	closeErr  error

	// wrap, set only by test harnesses before Serve, stands between the
	// listener and the API (see StartLiar).
	wrap func(http.Handler) http.Handler
}

// New opens (creating on first start) the data directory cfg.Dir: it takes
// the directory lock, loads or creates the identity, opens and migrates the
// index and reconciles it with the shard files. A nil logger discards logs.
//
// Errors wrap ErrInvalidConfig for a bad cfg and ErrDataDir (or one of the
// errors wrapping it) for a directory it cannot use.
func New(cfg Config, logger *slog.Logger) (*Farmer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	f, err := open(cfg, logger)
	if err != nil && !errors.Is(err, ErrDataDir) {
		err = fmt.Errorf("%w: %w", ErrDataDir, err)
	}
	return f, err
}

func open(cfg Config, logger *slog.Logger) (_ *Farmer, err error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("farmer: create data directory: %w", err)
	}
	if st, err := os.Stat(cfg.Dir); err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		logger.Warn("data directory is accessible by other users; chmod 700 it", "dir", cfg.Dir, "mode", fmt.Sprintf("%#o", st.Mode().Perm()))
	}
	f := &Farmer{cfg: cfg, log: logger, stopping: make(chan struct{}), stopFlush: make(chan struct{}), flushDone: make(chan struct{})}
	if f.lock, err = lockDir(filepath.Join(cfg.Dir, lockFile)); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if f.index != nil {
				f.index.Close()
			}
			f.lock.unlock()
		}
	}()
	key, created, err := loadOrCreateIdentity(cfg.Dir)
	if err != nil {
		return nil, err
	}
	f.key = key
	if f.id, err = format.NodeIDFromKey(key.Public().(ed25519.PublicKey)); err != nil {
		return nil, err
	}
	if created {
		logger.Info("created farmer identity", "node_id", f.id.String())
	}
	cert, err := format.ServerCertificate(key)
	if err != nil {
		return nil, fmt.Errorf("farmer: %w", err)
	}
	f.tls = format.ServerTLSConfig(cert)
	vcfg := cfg.Verifier
	vcfg.Farmer = f.id
	if f.verifier, err = format.NewVerifier(vcfg, time.Now()); err != nil {
		return nil, fmt.Errorf("farmer: %w", err)
	}
	f.store = store{dir: filepath.Join(cfg.Dir, shardsDir)}
	if err := os.Mkdir(f.store.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("farmer: %w", err)
	}
	ctx := context.Background()
	if f.index, err = openIndex(ctx, filepath.Join(cfg.Dir, indexFile)); err != nil {
		return nil, fmt.Errorf("farmer: %w", err)
	}
	st, err := f.reconcile(ctx, time.Now())
	if err != nil {
		return nil, fmt.Errorf("farmer: %w", err)
	}
	logger.Info("shard store reconciled", "shards", st.files, "temp_removed", st.tempRemoved,
		"moved_to_lost_found", st.quarantined, "rows_added", st.rowsAdded, "rows_dropped", st.rowsDropped)
	stored, err := f.index.storedByAccount(ctx)
	if err != nil {
		return nil, fmt.Errorf("farmer: load usage: %w", err)
	}
	f.space = newSpace(cfg.Capacity, cfg.AccountQuota, stored)
	if f.space.used > cfg.Capacity {
		logger.Warn("stored shards exceed the configured capacity; uploads are refused until it is raised or shards are deleted",
			"used", f.space.used, "capacity", cfg.Capacity)
	}
	f.mem = semaphore.NewWeighted(cfg.MaxMemory)
	go f.flushLoop()
	return f, nil
}

// ID returns the farmer's node ID.
func (f *Farmer) ID() format.NodeID { return f.id }

// Address returns the address clients should use: the configured
// advertised host:port, or else the address of the listener Serve was
// given. It is the zero Address before Serve is called.
func (f *Farmer) Address() format.Address {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addr
}

// ShardPath returns the file holding the shard root of account acct
// (whether or not it exists). It exists for tests that play a farmer whose
// disk rots or lies.
func (f *Farmer) ShardPath(acct format.AccountID, root merkle.Root) string {
	return f.store.path(acct, root)
}

// Serve accepts TLS connections on ln and serves the API until Shutdown,
// after which it returns nil. It closes ln. A Farmer serves at most one
// listener.
func (f *Farmer) Serve(ln net.Listener) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	if f.srv != nil {
		f.mu.Unlock()
		ln.Close()
		return errors.New("farmer: already serving")
	}
	host := f.cfg.Advertise
	if host == "" {
		host = ln.Addr().String()
	}
	f.addr = format.Address{ID: f.id, Host: host}
	var api http.Handler = &handler{f: f}
	if f.wrap != nil {
		api = f.wrap(api)
	}
	f.srv = &http.Server{
		Handler:           api,
		ReadHeaderTimeout: f.cfg.ReadHeaderTimeout,
		ReadTimeout:       f.cfg.ReadTimeout,
		WriteTimeout:      f.cfg.WriteTimeout,
		IdleTimeout:       f.cfg.IdleTimeout,
		MaxHeaderBytes:    f.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(f.log.Handler(), slog.LevelDebug),
	}
	srv := f.srv
	f.mu.Unlock()
	err := srv.Serve(tls.NewListener(ln, f.tls))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("farmer: serve: %w", err)
}

// Shutdown stops the farmer: it stops accepting connections, lets requests
// in flight finish (uploads are written and committed), and when ctx is
// done closes the remaining connections and waits at most
// Config.ShutdownGrace for their handlers. Then it flushes accounting,
// closes the index and releases the data directory. Calling it again
// returns the first call's result.
func (f *Farmer) Shutdown(ctx context.Context) error {
	f.closeOnce.Do(func() { f.closeErr = f.shutdown(ctx) })
	return f.closeErr
}

func (f *Farmer) shutdown(ctx context.Context) error {
	close(f.stopping)
	f.mu.Lock()
	f.closed = true
	srv := f.srv
	msrv := f.metricsSrv
	f.mu.Unlock()
	var errs []error
	if msrv != nil {
		msrv.Close() // scrapes are short; none is worth waiting for
	}
	if srv != nil {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
			errs = append(errs, fmt.Errorf("shutdown server: %w", err))
		}
	}
	select {
	case <-f.gate.close():
	case <-time.After(f.cfg.ShutdownGrace):
		errs = append(errs, errors.New("requests still running after the shutdown grace period"))
	}
	close(f.stopFlush)
	<-f.flushDone
	if err := f.flush(); err != nil {
		errs = append(errs, err)
	}
	if err := f.index.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close index: %w", err))
	}
	if err := f.lock.unlock(); err != nil {
		errs = append(errs, fmt.Errorf("unlock data directory: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("farmer: shutdown: %w", err)
	}
	return nil
}

// flushLoop writes accounting to the index every FlushInterval until
// Shutdown.
func (f *Farmer) flushLoop() {
	defer close(f.flushDone)
	t := time.NewTicker(f.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-f.stopFlush:
			return
		case <-t.C:
			if err := f.flush(); err != nil {
				f.log.Error("flush accounting", "err", err)
			}
		}
	}
}

func (f *Farmer) flush() error {
	p := f.egress.take()
	if err := f.index.flush(context.Background(), p, time.Now()); err != nil {
		f.egress.putBack(p)
		return fmt.Errorf("flush accounting: %w", err)
	}
	return nil
}
