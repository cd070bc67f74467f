package farmer

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/shardrive/shardrive/core/merkle"
)

// deleteShard removes the account's copy of root: the file first, then
// the row, so a crash in between leaves a row without a file, which
// reconciliation drops, never a file that resurrects.
func (h *handler) deleteShard(w http.ResponseWriter, req request, root merkle.Root) error {
	f := h.f
	acct := req.signed.Account
	unlock := f.keys.lock(shardKey{acct, root})
	defer unlock()
	row, err := h.lookup(req, root)
	if err != nil {
		return err
	}
	if err := f.store.remove(acct, root); err != nil {
		return err
	}
	removed, err := f.index.removeShard(context.WithoutCancel(req.r.Context()), acct, root, time.Now())
	if err != nil {
		return fmt.Errorf("unindex shard: %w", err)
	}
	if removed {
		f.space.release(acct, row.size)
	}
	f.log.Debug("deleted shard", "account", acct.String(), "root", root.String())
	w.WriteHeader(http.StatusNoContent)
	return nil
}
