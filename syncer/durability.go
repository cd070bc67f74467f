package syncer

import (
	"context"
	"math"
	"time"

	"github.com/shardrive/shardrive/cache"
)

// Durability model (see "Durability" in doc.go for the reasoning).
const (
	// priorLossRate is the shard loss rate assumed before anything is
	// measured, per shard-year: one farmer in five gone or failed within a
	// year, pessimistic for disks (2-4 % a year) and realistic for
	// strangers' machines.
	priorLossRate = 0.2
	// priorShardYears weighs the prior like one shard-year of observation.
	priorShardYears = 1.0
	hoursPerYear    = 365.25 * 24
)

// Durability is the drive's estimated durability.
type Durability struct {
	K, M, Threshold int
	Blocks          int64
	// LossRate is the measured shard loss rate, per shard-year, over the
	// farmers that hold shards (the prior blended in while little is
	// measured).
	LossRate float64
	// Availability is the mean share of checks farmers answered.
	Availability float64
	// Window is the assumed time from a shard's loss to its repair.
	Window time.Duration
	// BlockLossPerYear is the chance of losing one given block in a year;
	// DriveLossPerYear the chance of losing any block of the drive.
	BlockLossPerYear, DriveLossPerYear float64
	// Unreadable is the chance that a given block cannot be read at a
	// given moment because too few of its farmers answer.
	Unreadable float64
}

// Estimate computes the drive's durability from k, m, the repair threshold
// and what was measured of its farmers.
func (k *Keeper) Estimate(ctx context.Context) (Durability, error) {
	d := Durability{K: k.blocks.k, M: k.blocks.m}
	var hs []cache.Health
	err := k.db.View(ctx, func(tx *cache.Tx) (err error) {
		if d.Threshold, err = tx.RepairThreshold(); err != nil {
			return err
		}
		counts, err := tx.HealthCounts()
		if err != nil {
			return err
		}
		for _, c := range counts {
			d.Blocks += c
		}
		hs, err = tx.Healths()
		return err
	})
	if err != nil {
		return d, err
	}
	var lost, shardYears, upW, held float64
	for _, h := range hs {
		if h.HeldShards == 0 && h.LostShards == 0 {
			continue
		}
		lost += float64(h.LostShards)
		if h.HeldBytes > 0 {
			// Byte-hours over the mean shard size: the shard-hours held.
			shardYears += h.Ledger.ByteHours / (float64(h.HeldBytes) / float64(h.HeldShards)) / hoursPerYear
		}
		w := float64(max(h.HeldShards, 1))
		upW += w * Score(h.UpAlpha, h.UpBeta)
		held += w
	}
	d.LossRate = (lost + priorLossRate*priorShardYears) / (shardYears + priorShardYears)
	d.Availability = 1
	if held > 0 {
		d.Availability = upW / held
	}
	// A lost shard is found by the next audit of it or, for a farmer that
	// left, when it is disqualified for being unreachable; the repair runs
	// in the round after.
	d.Window = k.cfg.DisqualifyOffline + 2*k.cfg.AuditInterval
	d.BlockLossPerYear, d.Unreadable = durability(d.K, d.M, d.Threshold, d.LossRate, d.Availability, d.Window)
	d.DriveLossPerYear = -math.Expm1(float64(d.Blocks) * math.Log1p(-d.BlockLossPerYear))
	return d, nil
}

// durability evaluates the model: a block waits for repair with as few as
// threshold-1 healthy shards, and is lost when, within one repair window,
// threshold-k of those are lost too. Such windows open (k+m)·λ times a year.
func durability(k, m, threshold int, lossRate, availability float64, window time.Duration) (perYear, unreadable float64) {
	q := -math.Expm1(-lossRate * window.Hours() / hoursPerYear) // one shard lost within a window
	n0 := threshold - 1
	pWindow := binomTail(n0, n0-k+1, q)
	events := float64(k+m) * lossRate
	perYear = -math.Expm1(-events * pWindow)
	unreadable = binomTail(k+m, m+1, 1-availability)
	return perYear, unreadable
}

// binomTail returns P(X >= r) for X ~ Binomial(n, p).
func binomTail(n, r int, p float64) float64 {
	if r <= 0 {
		return 1
	}
	if r > n {
		return 0
	}
	var sum float64
	for i := r; i <= n; i++ {
		lc, _ := math.Lgamma(float64(n + 1))
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		term := lc - a - b
		if p > 0 {
			term += float64(i) * math.Log(p)
		} else if i > 0 {
			continue
		}
		if p < 1 {
			term += float64(n-i) * math.Log1p(-p)
		} else if n-i > 0 {
			continue
		}
		sum += math.Exp(term)
	}
	return min(sum, 1)
}
