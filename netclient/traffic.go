package netclient

import "sync/atomic"

// Traffic is the payload bytes a Network moved since it was made: shard
// and root record bodies of calls that succeeded (headers, TLS and failed
// calls not counted). The daemon exports it as metrics.
type Traffic struct {
	Sent     int64 // uploaded: shard puts and root record puts
	Received int64 // downloaded: verified shard reads and root records
	// Audited is downloaded by audits that passed: whole answer bodies,
	// proofs and framing included (AuditResult.Bytes); not in Received.
	Audited int64
}

// traffic counts Traffic; safe for concurrent use.
type traffic struct {
	sent, received, audited atomic.Int64
}

// count adds what a call of kind that succeeded moved.
func (t *traffic) count(kind callKind, moved int64) {
	switch kind {
	case callPut, callPutRoot:
		t.sent.Add(moved)
	case callGet, callGetRoot:
		t.received.Add(moved)
	case callAudit:
		t.audited.Add(moved)
	}
}

// Traffic returns the bytes moved so far.
func (n *Network) Traffic() Traffic {
	return Traffic{Sent: n.traffic.sent.Load(), Received: n.traffic.received.Load(), Audited: n.traffic.audited.Load()}
}
