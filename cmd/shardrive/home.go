package main

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/adrg/xdg"

	"github.com/shardrive/shardrive/drive"
	"github.com/shardrive/shardrive/service"
)

// home is where a drive keeps its local state. With --home (or
// SHARDRIVE_HOME) everything lives under one directory; otherwise in the
// XDG state and cache directories.
type home struct {
	state string // drive.db, keys, lock, control socket, daemon log
	cache string // default local block cache (the mount's)
}

func (g *globals) home() home {
	dir := g.homeFlag
	if dir == "" {
		dir = os.Getenv("SHARDRIVE_HOME")
	}
	if dir != "" {
		return home{state: dir, cache: filepath.Join(dir, "cache")}
	}
	return home{state: filepath.Join(xdg.StateHome, "shardrive"), cache: filepath.Join(xdg.CacheHome, "shardrive")}
}

func (h home) dbPath() string   { return filepath.Join(h.state, "drive.db") }
func (h home) lockPath() string { return filepath.Join(h.state, "lock") }

// service is the home as the service package names it. The control
// socket goes in the user's runtime directory when there is one (see
// service.Home.SocketPath).
func (h home) service() service.Home {
	return service.Home{State: h.state, Cache: h.cache, Runtime: os.Getenv("XDG_RUNTIME_DIR")}
}

// session is an open drive (service.Session) for a one-shot command.
type session struct {
	*service.Session
	drive *drive.Drive
}

// access says how a command uses the home.
type access int

const (
	readOnly  access = iota // shared lock: several readers may run at once
	readWrite               // exclusive lock
)

// openSession opens the drive in g's home; readWrite takes the home's
// exclusive lock (and so fails with exit code 8 while a daemon owns it).
func openSession(ctx context.Context, g *globals, mode access) (*session, error) {
	cfg := service.NewOpenConfig()
	cfg.Logger = g.log
	if mode == readWrite {
		cfg.Access = service.Exclusive
	}
	s, err := service.Open(ctx, g.home().service(), cfg)
	if err != nil {
		return nil, err
	}
	if mode == readWrite {
		if err := s.CheckWriter(ctx); err != nil {
			s.Close(context.WithoutCancel(ctx))
			return nil, err
		}
	}
	return &session{Session: s, drive: s.Drive}, nil
}

// backup stores the metadata changes a command made on the farmers, then
// deletes the shards that no stored root needs any more; what fails stays
// queued for the next command or the daemon.
func (s *session) backup(ctx context.Context, g *globals) {
	if err := s.BackupNow(ctx); err != nil {
		g.log.Warn("the metadata backup or the deletion of unused shards did not finish; it will be retried", "err", err)
	}
}

// probeTimeout bounds how long init waits for each farmer.
const probeTimeout = 15 * time.Second
