package service

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/syncer"
)

// Status is what `shardrive status --json` prints and GET /v1/status
// returns. Its JSON is an interface for scripts (docs/format/control.md):
// fields are only ever added.
type Status struct {
	Version int `json:"version"` // StatusVersion
	// Daemon is nil when no daemon runs and the status was read from the
	// home directly.
	Daemon  *DaemonStatus `json:"daemon"`
	Uploads UploadStatus  `json:"uploads"`
	// Transfers are the files the daemon is uploading now, oldest first.
	// Empty when no daemon runs: only a running uploader has any.
	Transfers []TransferStatus `json:"transfers"`
	Cache     CacheStatus      `json:"cache"`
	Farmers   []FarmerStatus   `json:"farmers"`
	// Backup is the metadata backup on the farmers.
	Backup *BackupStatus `json:"backup,omitempty"`
}

// StatusVersion is the version of the Status JSON.
const StatusVersion = 1

// DaemonStatus describes the running daemon.
type DaemonStatus struct {
	PID      int       `json:"pid"`
	MountDir string    `json:"mount_dir"`
	ReadOnly bool      `json:"read_only"`
	Started  time.Time `json:"started"`
	// Paused: network traffic is paused (shardrive pause).
	Paused bool `json:"paused"`
}

// UploadStatus is the upload queue.
type UploadStatus struct {
	QueuedFiles     int    `json:"queued_files"`     // files with changes not stored yet
	DirtyBlocks     int    `json:"dirty_blocks"`     // blocks newer than what the farmers hold
	DirtyBytes      int64  `json:"dirty_bytes"`      // their bytes
	UploadingBlocks int    `json:"uploading_blocks"` // blocks in flight now
	GarbageShards   int    `json:"garbage_shards"`   // shards waiting to be deleted from farmers
	LastError       string `json:"last_error,omitempty"`
}

// TransferStatus is one file being uploaded: the bytes of its changed
// blocks this upload stores, and how many of them are stored so far.
type TransferStatus struct {
	// Path is a drive path of the file (one of them if it has hard links),
	// or DeletedPath if it has none left.
	Path       string    `json:"path"`
	DoneBytes  int64     `json:"done_bytes"`  // <= TotalBytes
	TotalBytes int64     `json:"total_bytes"` // moves if the file's size changes meanwhile
	Started    time.Time `json:"started"`
}

// DeletedPath is the path of a transfer whose file was deleted meanwhile.
const DeletedPath = "(deleted)"

// CacheStatus is the local block cache.
type CacheStatus struct {
	Dir       string `json:"dir"`
	Blocks    int    `json:"blocks"`     // blocks held, clean and dirty
	Bytes     int64  `json:"bytes"`      // their bytes
	DiskBytes int64  `json:"disk_bytes"` // space the cache files take on disk
	MaxBytes  int64  `json:"max_bytes"`  // the limit; 0: none
	BlockSize int    `json:"block_size"`
}

// FarmerStatus is one farmer as the client sees it.
type FarmerStatus struct {
	ID        string     `json:"id"`
	Address   string     `json:"address"`
	State     string     `json:"state"` // FarmerUp, FarmerDown or FarmerUnknown
	LatencyMS float64    `json:"latency_ms,omitempty"`
	Failures  int64      `json:"failures"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// Farmer states.
const (
	FarmerUp      = "up"      // answered recently
	FarmerDown    = "down"    // failed recently: asked last until it answers
	FarmerUnknown = "unknown" // not asked yet
)

// probeTimeout bounds the farmer probe of a status read without a daemon.
const probeTimeout = 5 * time.Second

// Status reads the session's state. With probe, the farmers are asked
// first (at most a few seconds), so their states are current.
func (s *Session) Status(ctx context.Context, probe bool) (Status, error) {
	if probe {
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		s.Net.Probe(pctx)
		cancel()
	}
	u, err := s.NewUploader(ctx, syncer.NewUploaderConfig())
	if err != nil {
		return Status{}, err
	}
	st, err := s.status(ctx, u)
	if err != nil {
		return st, err
	}
	bs, err := syncer.ReadBackupStatus(ctx, s.DB, nil)
	st.Backup = NewBackupStatus(bs)
	return st, err
}

// status reads the queue from u and the rest from the session.
func (s *Session) status(ctx context.Context, u *syncer.Uploader) (Status, error) {
	st := Status{Version: StatusVersion, Farmers: []FarmerStatus{}, Transfers: []TransferStatus{}}
	us, err := u.Status(ctx)
	if err != nil {
		return st, err
	}
	st.Uploads = UploadStatus{QueuedFiles: us.QueuedFiles, DirtyBlocks: us.DirtyBlocks, UploadingBlocks: us.Uploading,
		GarbageShards: us.Garbage, LastError: us.LastError}
	bs := int64(s.Drive.Settings().BlockSize)
	st.Cache = CacheStatus{Dir: s.CacheDir, BlockSize: int(bs)}
	transfers := u.Transfers()
	err = s.DB.View(ctx, func(tx *cache.Tx) error {
		for _, t := range transfers {
			p, err := tx.PathOf(t.Ino)
			if errors.Is(err, cache.ErrNotFound) {
				p = DeletedPath
			} else if err != nil {
				return err
			}
			st.Transfers = append(st.Transfers, TransferStatus{Path: p, DoneBytes: t.Done, TotalBytes: t.Total, Started: t.Started.UTC()})
		}
		inos, err := tx.CachedInodes()
		if err != nil {
			return err
		}
		for _, ino := range inos {
			in, err := tx.Inode(ino)
			if errors.Is(err, cache.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			blocks, err := tx.CachedBlocks(ino)
			if err != nil {
				return err
			}
			for _, b := range blocks {
				n := max(0, min(bs, in.Size-b.Index*bs))
				st.Cache.Blocks++
				st.Cache.Bytes += n
				if b.Dirty {
					st.Uploads.DirtyBytes += n
				}
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	st.Cache.DiskBytes = diskUsage(filesDir(s.CacheDir))
	for _, f := range s.Net.Stats() {
		fst := FarmerStatus{ID: f.ID.String(), Address: f.Addr, State: FarmerUnknown, Failures: f.Failures, LastError: f.LastError}
		switch {
		case f.Down:
			fst.State = FarmerDown
		case !f.LastSeen.IsZero():
			fst.State = FarmerUp
		}
		if !f.LastSeen.IsZero() {
			seen := f.LastSeen.UTC()
			fst.LastSeen = &seen
		}
		if f.Latency > 0 {
			fst.LatencyMS = float64(f.Latency.Microseconds()) / 1000
		}
		st.Farmers = append(st.Farmers, fst)
	}
	return st, nil
}

// FileStatus returns the sync state of drive path p.
func (s *Session) FileStatus(ctx context.Context, p string) (FileStatus, error) {
	in, err := s.Drive.Stat(ctx, p)
	if err != nil {
		return FileStatus{}, err
	}
	st, err := s.Drive.Status(ctx, uint64(in.Ino))
	return FileStatus{Path: p, Status: st}, err
}

// diskUsage is the space the files under dir take (allocated blocks, so
// sparse files count only what they hold). Unreadable parts count zero.
func diskUsage(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if n, ok := allocatedBytes(fi); ok {
				total += n
			} else {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}
