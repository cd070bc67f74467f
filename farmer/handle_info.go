package farmer

import (
	"fmt"
	"net/http"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// info reports the farmer's identity, space and the account's usage. The
// accounting is current: byte-hours accrued and egress counted up to the
// answer, though both reach the index only at the next flush.
func (h *handler) info(w http.ResponseWriter, req request) error {
	f := h.f
	acct := req.signed.Account
	u, err := f.index.usage(req.r.Context(), acct, time.Now())
	if err != nil {
		return fmt.Errorf("account usage: %w", err)
	}
	used, free, stored := f.space.snapshot(acct)
	return writeJSON(w, http.StatusOK, format.Info{
		NodeID:       f.id,
		Software:     f.cfg.Software,
		Protocol:     format.ProtocolVersion,
		Capacity:     f.cfg.Capacity,
		Used:         used,
		Free:         free,
		MaxShardSize: f.cfg.MaxShardSize,
		Region:       f.cfg.Region,
		Account: format.AccountUsage{
			ID:        acct,
			Quota:     f.space.accountQuota(),
			Used:      stored,
			Shards:    u.shards,
			Egress:    u.egress + f.egress.peek(acct),
			ByteHours: u.byteHours,
			Ingress:   u.ingress,
			Since:     u.since,
		},
	})
}
