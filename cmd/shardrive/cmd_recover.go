package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/service"
	"github.com/shardrive/shardrive/syncer"
)

// runRecover is `init --recover`: the 24 words on stdin and one farmer
// address rebuild the drive's metadata in an empty home. Nothing is written
// until a root record verified under the words is found, and a failure
// after that removes what was written.
func runRecover(ctx context.Context, o initOptions, g *globals, stdin io.Reader) (err error) {
	h := g.home()
	if _, err := os.Stat(h.dbPath()); err == nil {
		return fmt.Errorf("%s: %w", h.state, errDriveExists)
	}
	addrs, err := parseFarmers(o.farmers)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: --recover needs --farmers with at least one farmer of the drive", errUsage)
	}
	words, err := io.ReadAll(io.LimitReader(stdin, 4<<10))
	if err != nil {
		return fmt.Errorf("read the mnemonic from stdin: %w", err)
	}
	mnemonic := strings.Join(strings.Fields(string(words)), " ")
	seed, err := crypto.MnemonicSeed(mnemonic)
	if err != nil {
		return err
	}
	keys, err := crypto.DeriveKeys(seed)
	if err != nil {
		return err
	}
	clear(seed)

	// Find the newest root, trying the given farmers in turn.
	var found *syncer.Found
	var errs []error
	for _, a := range addrs {
		f, err := syncer.FindRoot(ctx, a, keys, netclient.NewNetworkConfig(), g.log)
		if err == nil {
			found = f
			break
		}
		errs = append(errs, err)
	}
	if found == nil {
		return errors.Join(errs...)
	}
	defer found.Close()
	rcfg := syncer.RestoreConfig{UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), KeepOwners: o.keepOwners, TakeOver: o.takeOver, Now: time.Now()}
	if err := found.CheckLease([16]byte{}, rcfg); err != nil {
		return err
	}

	// From here on the home is written; a failure removes it again.
	createdState := false
	if _, err := os.Stat(h.state); errors.Is(err, os.ErrNotExist) {
		createdState = true
	}
	if err := os.MkdirAll(h.state, 0o700); err != nil {
		return err
	}
	lock, err := service.LockHome(h.lockPath(), true)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(h.dbPath())
			os.Remove(h.dbPath() + "-wal")
			os.Remove(h.dbPath() + "-shm")
			service.NewKeyStore().Delete(h.service()) // best effort, as the rest
			if createdState {
				os.RemoveAll(h.state)
			}
		}
	}()
	place, err := saveKeys(o, g, h, keys)
	if err != nil {
		lock.Unlock()
		return err
	}
	start := time.Now()
	db, err := cache.Open(ctx, h.dbPath())
	if err != nil {
		lock.Unlock()
		return err
	}
	bar := newProgress("recover", 0)
	rcfg.Progress = func(done, total int64) {
		bar.SetTotal(total)
		bar.Set(done)
	}
	err = syncer.Restore(ctx, db, found, keys, rcfg)
	bar.End(err)
	var sum treeSummary
	if err == nil {
		err = db.View(ctx, func(tx *cache.Tx) error { return sum.read(tx) })
	}
	db.Close()
	lock.Unlock()
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	took := time.Since(start)

	// Take the writer lease: a root naming this device, stored now.
	s, err := openSession(ctx, g, readWrite)
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	lerr := s.BackupNow(ctx)

	r := found.Root
	fmt.Fprintf(os.Stderr, "recovered drive: %d files, %d folders, %d symlinks, %s; metadata version %d stored %s (%s to restore)\n",
		sum.files, sum.dirs, sum.symlinks, humanize.IBytes(uint64(sum.bytes)), r.Version, r.Time.UTC().Format(time.RFC3339), took.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "farmers: %d of %d answered\n", found.Answered, found.Farmers)
	fmt.Fprintf(os.Stderr, "drive keys: %s\n", place)
	for _, f := range found.Older {
		fmt.Fprintf(os.Stderr, "WARNING: farmer %s serves an older root record (ignored: rolled back or behind)\n", f)
	}
	for _, f := range found.Bad {
		fmt.Fprintf(os.Stderr, "WARNING: farmer %s serves a root record that does not verify (ignored)\n", f)
	}
	if 2*found.Answered < found.Farmers {
		fmt.Fprintf(os.Stderr, "WARNING: fewer than half the farmers answered: a newer version may exist; restored version %d of %s\n",
			r.Version, r.Time.UTC().Format(time.RFC3339))
	}
	if lerr != nil {
		fmt.Fprintf(os.Stderr, "WARNING: could not store the new writer lease yet (%v); the daemon will retry\n", lerr)
	}
	return nil
}

// treeSummary counts what a restored drive holds.
type treeSummary struct {
	files, dirs, symlinks int
	bytes                 int64
}

func (s *treeSummary) read(tx *cache.Tx) error {
	var err error
	s.files, s.dirs, s.symlinks, s.bytes, err = tx.Census()
	return err
}
