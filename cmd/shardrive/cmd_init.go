package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/service"
	"github.com/shardrive/shardrive/syncer"
)

type initOptions struct {
	farmers      []string
	dataShards   int
	parityShards int
	blockSize    string
	repairAt     int
	recover      bool
	takeOver     bool
	keepOwners   bool
	keysFile     bool
}

func (o *initOptions) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringSliceVar(&o.farmers, "farmers", nil, "farmer addresses (nodeid@host:port), comma-separated; at least data+parity shards of them")
	f.IntVar(&o.dataShards, "data-shards", 4, "k: shards any k of which rebuild a block")
	f.IntVar(&o.parityShards, "parity-shards", 2, "m: extra shards, so that m farmers may be lost")
	f.StringVar(&o.blockSize, "block-size", "4MiB", "file block size (64KiB..64MiB)")
	f.IntVar(&o.repairAt, "repair-threshold", 0, "repair a block once it has fewer healthy shards than this (k < N <= k+m; default k+m)")
	f.BoolVar(&o.recover, "recover", false, "recover an existing drive: the 24 words on stdin, one of its farmers in --farmers")
	f.BoolVar(&o.takeOver, "take-over", false, "with --recover: move the writer here even though another device holds the drive (it then stops writing)")
	f.BoolVar(&o.keepOwners, "keep-owners", false, "with --recover: keep the files' recorded owners instead of making them yours")
	f.BoolVar(&o.keysFile, "keys-file", false, "keep the derived keys in a 0600 file in the home even where an OS keyring answers (a daemon started before login, a headless machine)")
}

func newInitCommand(g *globals) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init --farmers ADDR1,ADDR2,... | init --recover --farmers ADDR < words.txt",
		Short: "Create a new drive and print its 24-word mnemonic once, or recover one from its words",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.recover {
				return runRecover(cmd.Context(), o, g, cmd.InOrStdin())
			}
			if o.takeOver || o.keepOwners {
				return fmt.Errorf("%w: --take-over and --keep-owners go with --recover", errUsage)
			}
			return runInit(cmd.Context(), o, g)
		},
	}
	o.AddFlags(cmd)
	return cmd
}

func runInit(ctx context.Context, o initOptions, g *globals) error {
	mnemonic, created, err := createDrive(ctx, o, g)
	if err != nil {
		return err
	}
	fmt.Printf("mnemonic: %s\n", mnemonic)
	fmt.Fprintf(os.Stderr, "WARNING: write these 24 words down and keep them safe. They are shown only this once;\n"+
		"they are the only way to recover this drive on another machine, and anyone who has them can read it.\n")
	fmt.Fprintln(os.Stderr, created)
	return nil
}

// createDrive is init without its output: it returns the new drive's
// mnemonic, for the caller to show (init prints it, setup numbers it and
// asks for words back), and the one line saying what was created.
func createDrive(ctx context.Context, o initOptions, g *globals) (mnemonic, created string, err error) {
	h := g.home()
	if _, err := os.Stat(h.dbPath()); err == nil {
		return "", "", fmt.Errorf("%s: %w", h.state, errDriveExists)
	}
	bs, err := humanize.ParseBytes(o.blockSize)
	if err != nil {
		return "", "", fmt.Errorf("%w: --block-size %q: %w", errUsage, o.blockSize, err)
	}
	cfg := cache.DriveConfig{DataShards: o.dataShards, ParityShards: o.parityShards, BlockSize: int(bs), Created: time.Now()}
	if err := cfg.Validate(); err != nil {
		return "", "", fmt.Errorf("%w: %w", errUsage, err)
	}
	if bs%crypto.SegmentSize != 0 {
		return "", "", fmt.Errorf("%w: --block-size must be a multiple of %d KiB", errUsage, crypto.SegmentSize>>10)
	}
	addrs, err := parseFarmers(o.farmers)
	if err != nil {
		return "", "", err
	}
	if len(addrs) < cfg.DataShards+cfg.ParityShards {
		return "", "", fmt.Errorf("%w: %d farmers given; a %d+%d drive puts each shard of a block on a different farmer, so it needs at least %d",
			errUsage, len(addrs), cfg.DataShards, cfg.ParityShards, cfg.DataShards+cfg.ParityShards)
	}
	if err := os.MkdirAll(h.state, 0o700); err != nil {
		return "", "", err
	}
	lock, err := service.LockHome(h.lockPath(), true)
	if err != nil {
		return "", "", err
	}
	defer lock.Unlock()

	mnemonic, err = crypto.NewMnemonic()
	if err != nil {
		return "", "", err
	}
	seed, err := crypto.MnemonicSeed(mnemonic)
	if err != nil {
		return "", "", err
	}
	keys, err := crypto.DeriveKeys(seed)
	if err != nil {
		return "", "", err
	}
	// Every farmer must answer, under its pinned identity, before anything is
	// written: a typo in an address should fail here, not at the first put.
	if err := probeFarmers(ctx, addrs, keys); err != nil {
		return "", "", err
	}
	cfg.ID = crypto.NewFileID()
	cfg.KeyCheck = keys.Check()
	place, err := saveKeys(o, g, h, keys)
	if err != nil {
		return "", "", err
	}
	db, err := cache.Open(ctx, h.dbPath())
	if err != nil {
		return "", "", err
	}
	defer db.Close()
	err = db.Update(ctx, func(tx *cache.Tx) error {
		if err := tx.InitDrive(cfg, uint32(os.Getuid()), uint32(os.Getgid())); err != nil {
			return err
		}
		for _, a := range addrs {
			if _, err := tx.AddFarmer(a.ID.String(), a.String()); err != nil {
				return err
			}
		}
		if o.repairAt != 0 {
			if err := tx.SetRepairThreshold(o.repairAt); err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	db.Close()
	lock.Unlock()
	// The first root record: the drive is recoverable from its words from
	// now on, and this device holds its writer lease.
	if s, err := openSession(ctx, g, readWrite); err != nil {
		g.log.Warn("could not store the first metadata backup; the daemon will", "err", err)
	} else {
		if err := s.BackupNow(ctx); err != nil {
			g.log.Warn("could not store the first metadata backup; the daemon will", "err", err)
		}
		s.Close(context.WithoutCancel(ctx))
	}
	created = fmt.Sprintf("drive created in %s: %d+%d shards over %d farmers, %s blocks; keys %s",
		h.state, cfg.DataShards, cfg.ParityShards, len(addrs), humanize.IBytes(uint64(cfg.BlockSize)), place)
	return mnemonic, created, nil
}

// saveKeys keeps the derived keys of the drive in home h: in the OS
// keyring where one answers, unless --keys-file, else in a 0600 file.
func saveKeys(o initOptions, g *globals, h home, keys *crypto.Keys) (service.KeysPlace, error) {
	ks := service.NewKeyStore()
	ks.FileOnly = o.keysFile
	place, err := ks.Save(h.service(), keys)
	if err != nil {
		return place, err
	}
	if place.NoKeyring != nil {
		g.log.Info("the OS keyring was not used for the drive keys", "reason", place.NoKeyring)
	}
	return place, nil
}

func parseFarmers(list []string) ([]format.Address, error) {
	var addrs []format.Address
	seen := map[format.NodeID]bool{}
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		a, err := format.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("%w: farmer %q: %w", errUsage, s, err)
		}
		if seen[a.ID] {
			return nil, fmt.Errorf("%w: farmer %s given twice", errUsage, a.ID)
		}
		seen[a.ID] = true
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// probeFarmers asks every farmer for its info, in parallel.
func probeFarmers(ctx context.Context, addrs []format.Address, keys *crypto.Keys) error {
	var g errgroup.Group
	errs := make([]error, len(addrs))
	for i, a := range addrs {
		g.Go(func() error {
			c := netclient.NewFarmerClient(a, keys.AccountKey(a.ID.PublicKey()), netclient.NewFarmerConfig())
			defer c.Close()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			if _, err := c.Info(pctx); err != nil {
				errs[i] = fmt.Errorf("farmer %s: %w", a, err)
			}
			return nil
		})
	}
	g.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", syncer.ErrUnavailable, err)
	}
	return nil
}
