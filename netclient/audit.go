package netclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
)

// Audits: see "Audits" in doc.go for why one verified leaf proves storage.
// Audit is the mechanism only; which leaf of which shard, how often, and
// what a verdict does to a farmer's standing are the caller's policy.

// AuditOutcome is the verdict of one audit.
type AuditOutcome int

const (
	// AuditNone is no verdict: the audit was not made (unknown farmer, bad
	// arguments) or the caller's context ended first. It says nothing
	// about the farmer.
	AuditNone AuditOutcome = iota
	// AuditPassed: the farmer sent the leaf, and it verified against the
	// shard's root.
	AuditPassed
	// AuditFailed: the farmer answered, but not with the leaf: bytes or a
	// proof that do not verify, a malformed body, "not found", "corrupt",
	// "no such range", or any other refusal of a request it should serve.
	AuditFailed
	// AuditNoAnswer: no answer within AuditTimeout, a network error, a
	// body cut short, someone else at the farmer's address, or a 5xx
	// "internal"/"unavailable". Not a failure by itself; a farmer that
	// answers everything but audits is held to the audit by the caller.
	AuditNoAnswer
)

func (o AuditOutcome) String() string {
	switch o {
	case AuditNone:
		return "none"
	case AuditPassed:
		return "passed"
	case AuditFailed:
		return "failed"
	case AuditNoAnswer:
		return "no answer"
	}
	return fmt.Sprintf("AuditOutcome(%d)", int(o))
}

// AuditResult is what one audit found and cost.
type AuditResult struct {
	Outcome AuditOutcome
	// Bytes is the size of the farmer's answer body: the leaf, its Merkle
	// proof and the range framing (docs/format/wire.md), which is what an
	// audit costs in download. 0 when no 2xx body was read whole (an
	// error answer, no answer). Headers, TLS and the request are not
	// counted.
	Bytes int64
	// Duration is the call's time, from sending the request to having
	// verified the answer; the wait for one of the farmer's slots is not
	// included. 0 when no call was made.
	Duration time.Duration
}

// Audit challenges farmer to produce leaf leaf of the shard root: bytes
// [leaf*merkle.LeafSize, ...) of it, merkle.LeafSize long except the last
// leaf, with their Merkle proof, verified against root. shardLen must be
// the shard's size as the client's metadata has it (the root binds it): a
// leaf past its end is a bad argument, but a farmer that answers "no such
// range" for a leaf that exists fails. The call is bounded by
// AuditTimeout, holds one of the farmer's slots like any other call, and is
// recorded in the ranking (a wrong answer is bad data). Excluded farmers
// are audited like any other. The error, nil only when the audit passed,
// is for logging; the verdict is the result's Outcome.
func (n *Network) Audit(ctx context.Context, farmer format.NodeID, root merkle.Root, shardLen int64, leaf int) (AuditResult, error) {
	p := n.farmers().peers[farmer]
	if p == nil {
		return AuditResult{}, fmt.Errorf("audit shard %s: %w: %s", root, ErrUnknownFarmer, farmer)
	}
	if shardLen < 0 || shardLen > format.MaxShardSize {
		return AuditResult{}, fmt.Errorf("audit shard %s: %w: shard size %d not in [0, %d]", root, merkle.ErrRange, shardLen, format.MaxShardSize)
	}
	if count := merkle.LeafCount(shardLen); leaf < 0 || leaf >= count {
		return AuditResult{}, fmt.Errorf("audit shard %s: %w: leaf %d of %d", root, merkle.ErrRange, leaf, count)
	}
	off := int64(leaf) * merkle.LeafSize
	length := min(merkle.LeafSize, shardLen-off)
	if length == 0 {
		length = -1 // the empty shard: its one empty leaf, which still comes with a proof
	}
	var res AuditResult
	err := n.call(ctx, p, callAudit, merkle.LeafSize, 0, func(ctx context.Context) (int64, error) {
		start := n.rank.now()
		_, body, err := p.conn.getShardBody(ctx, root, off, length)
		res.Duration = n.rank.now().Sub(start)
		res.Bytes = body
		return body, err
	})
	res.Outcome = auditOutcome(ctx, err)
	if err != nil {
		if res.Outcome == AuditFailed {
			n.log.Warn("farmer failed an audit", "farmer", farmer, "shard", root, "leaf", leaf, "err", err)
		}
		return res, fmt.Errorf("audit leaf %d of shard %s on farmer %s: %w", leaf, root, farmer, err)
	}
	return res, nil
}

// auditOutcome turns an audit call's error into its verdict. ctx is the
// caller's: when it ended, the call's end is ours.
func auditOutcome(ctx context.Context, err error) AuditOutcome {
	switch classify(ctx, callAudit, err) {
	case outcomeOK:
		return AuditPassed
	case outcomeCanceled:
		return AuditNone
	case outcomeFailed:
		return AuditNoAnswer
	}
	if errors.Is(err, format.ErrWrongFarmer) {
		return AuditNoAnswer // another node at the address: the farmer itself did not answer
	}
	return AuditFailed
}
