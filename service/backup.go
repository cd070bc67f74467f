package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/syncer"
)

// BackupStatus is the metadata backup in Status (docs/format/control.md).
type BackupStatus struct {
	Version    uint64     `json:"version"`        // of the newest root stored; 0: never
	Time       *time.Time `json:"time,omitempty"` // when it was stored
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	Pending    bool       `json:"pending"`           // changes wait for the next backup
	Objects    int        `json:"objects"`           // metadata objects the root names
	Bytes      int64      `json:"bytes"`             // their plaintext bytes
	LostTo     string     `json:"lost_to,omitempty"` // the device that took the drive over
	LastError  string     `json:"last_error,omitempty"`
}

// NewBackupStatus turns the syncer's backup state into its JSON form.
func NewBackupStatus(b syncer.BackupStatus) *BackupStatus {
	s := &BackupStatus{Version: b.Version, Pending: b.Pending, Objects: b.Objects, Bytes: b.Bytes, LostTo: b.LostTo, LastError: b.LastError}
	if !b.Time.IsZero() {
		t := b.Time.UTC()
		s.Time = &t
	}
	if !b.LeaseUntil.IsZero() {
		t := b.LeaseUntil.UTC()
		s.LeaseUntil = &t
	}
	return s
}

// NewBackup returns the metadata backup over the session.
func (s *Session) NewBackup(ctx context.Context, cfg syncer.BackupConfig) (*syncer.Backup, error) {
	if cfg.Logger == nil {
		cfg.Logger = s.log
	}
	return syncer.NewBackup(ctx, s.DB, s.Blocks, s.gate, s.Keys, cfg)
}

// BackupNow stores the metadata changes made so far on the farmers and
// then deletes the shards that no stored root needs any more: what a
// one-shot command does before it exits. A failure leaves the changes
// queued for the next command or daemon.
func (s *Session) BackupNow(ctx context.Context) error {
	b, err := s.NewBackup(ctx, syncer.NewBackupConfig())
	if err != nil {
		return err
	}
	if err := b.Release(ctx); err != nil {
		return fmt.Errorf("metadata backup: %w", err)
	}
	return s.Drive.CollectGarbage(ctx)
}

// CheckWriter refuses to write from a device that lost the drive's writer
// lease to another.
func (s *Session) CheckWriter(ctx context.Context) error {
	var st cache.BackupState
	if err := s.DB.View(ctx, func(tx *cache.Tx) (err error) { st, err = tx.BackupState(); return err }); err != nil {
		return err
	}
	if st.LostTo != "" {
		return fmt.Errorf("%w (device %s); this device no longer writes; recover the drive again (init --recover) to write here",
			syncer.ErrLeaseLost, st.LostTo)
	}
	return nil
}

// IsLeaseLost reports whether err says another device took the drive over.
func IsLeaseLost(err error) bool { return errors.Is(err, syncer.ErrLeaseLost) }
