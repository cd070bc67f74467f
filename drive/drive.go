package drive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/syncer"
)

// Config tunes a Drive.
type Config struct {
	// Concurrency is how many blocks are sealed, coded and transferred at
	// once. Memory use is about Concurrency * 3.5 * BlockSize.
	Concurrency int
	// InlineMax is the largest file kept whole in the metadata instead of
	// in blocks on the farmers: small files cost no round trips.
	InlineMax int
	// ReadAhead is how many blocks past a sequential read are fetched in
	// the background.
	ReadAhead int
	// CacheMaxSize is the local cache limit in bytes, rounded down to
	// whole blocks and at least two of them; 0: no limit. Writes keep it
	// (see doc.go); dirty and pinned blocks stay whatever the limit.
	CacheMaxSize int64
	// UploadStall is how long a write waits for uploads to make room in a
	// full local cache without a single block being uploaded before it
	// fails with ErrNoSpace.
	UploadStall time.Duration
	// UID and GID own what this drive creates.
	UID, GID uint32
	Logger   *slog.Logger
}

// NewConfig returns the defaults.
func NewConfig() Config {
	return Config{
		Concurrency: max(4, runtime.GOMAXPROCS(0)),
		InlineMax:   16 << 10,
		ReadAhead:   4,
		UploadStall: time.Minute,
		UID:         uint32(os.Getuid()),
		GID:         uint32(os.Getgid()),
		Logger:      slog.New(slog.DiscardHandler),
	}
}

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if c.Concurrency < 1 || c.Concurrency > 256 {
		return fmt.Errorf("drive concurrency %d: must be 1..256", c.Concurrency)
	}
	if c.CacheMaxSize < 0 {
		return fmt.Errorf("drive cache max size %d: must be >= 0", c.CacheMaxSize)
	}
	if c.CacheMaxSize > 0 && c.UploadStall <= 0 {
		return fmt.Errorf("drive upload stall %v: must be > 0 with a cache limit", c.UploadStall)
	}
	if c.Logger == nil {
		return errors.New("drive: no logger")
	}
	return nil
}

// Blocks is what the drive needs of the syncer.
type Blocks interface {
	Store(ctx context.Context, f syncer.File, idx int64, plain []byte) (syncer.Stored, error)
	Load(ctx context.Context, f syncer.File, blk cache.Block, dst []byte) ([]byte, error)
	CollectGarbage(ctx context.Context, limit int) (int, error)
}

// Drive is one drive's files.
type Drive struct {
	cfg    Config
	db     *cache.DB
	keys   *crypto.Keys
	blocks Blocks
	files  *cache.Files
	dc     cache.DriveConfig

	// mu guards nodes. Lock order: mu, then a file's lock (cache.File),
	// then changes, then a metadata write transaction, then room.mu (a
	// leaf). Never take mu under a file's lock, nor a file's lock inside a
	// transaction.
	mu    sync.Mutex
	nodes map[int64]*node

	room *cacheRoom // the local cache's size against its limit

	// readOnly is set once, by SetReadOnly: the error every change fails
	// with from then on. changes is held for reading over each metadata
	// transaction of a change (see change), and for writing by SetReadOnly
	// to wait for those in flight.
	readOnly atomic.Pointer[error]
	changes  sync.RWMutex
}

// New returns the drive whose metadata is db and whose local block cache is
// files.
func New(ctx context.Context, db *cache.DB, keys *crypto.Keys, blocks Blocks, files *cache.Files, cfg Config) (*Drive, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Drive{cfg: cfg, db: db, keys: keys, blocks: blocks, files: files, nodes: make(map[int64]*node)}
	var used int
	if err := db.View(ctx, func(tx *cache.Tx) (err error) {
		if d.dc, err = tx.Drive(); err != nil {
			return err
		}
		used, _, err = tx.CachedCount()
		return err
	}); err != nil {
		return nil, err
	}
	if err := keys.VerifyCheck(d.dc.KeyCheck); err != nil {
		return nil, err
	}
	limit := cfg.CacheMaxSize / int64(d.dc.BlockSize)
	if cfg.CacheMaxSize > 0 && limit < 2 {
		return nil, fmt.Errorf("drive cache max size %d: must hold at least two %d-byte blocks", cfg.CacheMaxSize, d.dc.BlockSize)
	}
	d.room = newCacheRoom(limit, int64(used))
	if limit > 0 && int64(used) > limit {
		// The limit shrank since the last run: what is clean goes now.
		if err := d.evictTo(ctx, limit); err != nil {
			cfg.Logger.Warn("cache limit at open", "err", err)
		}
	}
	return d, nil
}

// Settings returns the drive's fixed settings.
func (d *Drive) Settings() cache.DriveConfig { return d.dc }

// Stat returns the inode at drive path p.
func (d *Drive) Stat(ctx context.Context, p string) (in cache.Inode, err error) {
	err = d.db.View(ctx, func(tx *cache.Tx) error {
		in, err = tx.LookupPath(p)
		return err
	})
	return in, err
}

// ReadDirPath lists the directory at drive path p.
func (d *Drive) ReadDirPath(ctx context.Context, p string) (ents []cache.Dirent, err error) {
	err = d.db.View(ctx, func(tx *cache.Tx) error {
		dir, err := tx.LookupPath(p)
		if err != nil {
			return err
		}
		if dir.Kind != cache.KindDir {
			return fmt.Errorf("%s: %w", p, cache.ErrNotDir)
		}
		ents, err = tx.ReadDir(dir.Ino)
		return err
	})
	return ents, err
}

// Remove deletes the file, symlink or empty directory at p. The shards of a
// file's last link become garbage (see CollectGarbage).
func (d *Drive) Remove(ctx context.Context, p string) error {
	if err := d.ReadOnly(); err != nil {
		return err
	}
	dir, name := path.Split(path.Clean(p))
	if name == "" {
		return fmt.Errorf("remove %s: %w: cannot remove the root", p, cache.ErrInvalidName)
	}
	var uncached int64
	err := d.change(ctx, func(tx *cache.Tx) error {
		parent, err := tx.LookupPath(dir)
		if err != nil {
			return err
		}
		in, err := tx.Lookup(parent.Ino, name)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rows, err := tx.CachedBlockCount(in.Ino, 0)
		if err != nil {
			return err
		}
		if _, err := tx.Unlink(parent.Ino, name); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if _, err := tx.Inode(in.Ino); errors.Is(err, cache.ErrNotFound) {
			uncached = rows
		}
		return nil
	})
	if err == nil {
		d.room.add(-uncached)
	}
	return err
}

// CollectGarbage deletes every queued shard it can from the farmers.
func (d *Drive) CollectGarbage(ctx context.Context) error {
	for {
		n, err := d.blocks.CollectGarbage(ctx, 256)
		if err != nil || n < 256 {
			return err
		}
	}
}

// MkdirPath makes the directory p and any missing parents, like mkdir -p.
func (d *Drive) MkdirPath(ctx context.Context, p string) (in cache.Inode, err error) {
	if err := d.ReadOnly(); err != nil {
		return in, err
	}
	names, err := cache.SplitPath(p)
	if err != nil {
		return in, err
	}
	err = d.change(ctx, func(tx *cache.Tx) error {
		in, err = d.mkdirAll(tx, names)
		return err
	})
	return in, err
}

// mkdirAll resolves names from the root, creating missing directories.
func (d *Drive) mkdirAll(tx *cache.Tx, names []string) (cache.Inode, error) {
	in, err := tx.Inode(cache.RootIno)
	if err != nil {
		return in, err
	}
	for i, n := range names {
		next, err := tx.Lookup(in.Ino, n)
		switch {
		case err == nil && next.Kind == cache.KindDir:
			in = next
			continue
		case err == nil:
			return next, fmt.Errorf("/%s: %w", path.Join(names[:i+1]...), cache.ErrNotDir)
		case !errors.Is(err, cache.ErrNotFound):
			return in, err
		}
		now := timeNow()
		ino, err := tx.CreateInode(cache.Inode{Kind: cache.KindDir, Mode: 0o755, UID: d.cfg.UID, GID: d.cfg.GID,
			Atime: now, Mtime: now, Ctime: now})
		if err != nil {
			return in, err
		}
		if err := tx.Link(in.Ino, n, ino); err != nil {
			return in, err
		}
		if in, err = tx.Inode(ino); err != nil {
			return in, err
		}
	}
	return in, nil
}
