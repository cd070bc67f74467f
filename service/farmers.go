package service

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/netclient"
	"github.com/shardrive/shardrive/syncer"
)

// The control protocol's farmer, verify and repair calls (docs/format/control.md):
//
//	GET  /v1/farmers                            -> FarmersReply
//	POST /v1/farmers/settle                     -> FarmersReply with each farmer's claim
//	POST /v1/farmers/add    FarmerRequest       -> OKReply
//	POST /v1/farmers/remove FarmerRequest       -> OKReply
//	POST /v1/verify         VerifyRequest       -> VerifyReply
//	POST /v1/repair         RepairRequest       -> RepairReply
//
// Without a daemon the CLI builds the same replies from a session of its
// own (Session.Farmers, Session.Verify, Session.Repair).

// FarmerReport is one farmer as the drive sees it.
type FarmerReport struct {
	NodeID       string     `json:"node_id"`
	Address      string     `json:"address"`
	Region       string     `json:"region,omitempty"`
	State        string     `json:"state"`
	Reason       string     `json:"reason,omitempty"`
	Up           bool       `json:"up"`
	DownSince    *time.Time `json:"down_since,omitempty"`
	LatencyMS    float64    `json:"latency_ms"`
	Throughput   float64    `json:"throughput_bps"`
	AuditsPassed int64      `json:"audits_passed"`
	AuditsFailed int64      `json:"audits_failed"`
	AuditScore   float64    `json:"audit_score"`
	Uptime       float64    `json:"uptime"`
	// Reputation is AuditScore × Uptime × speed, where speed is 1 for a
	// farmer as fast as the median and falls towards 0 for slower ones.
	Reputation float64 `json:"reputation"`
	ShardsHeld int64   `json:"shards_held"`
	BytesHeld  int64   `json:"bytes_held"`
	LostShards int64   `json:"lost_shards"`
	// Owed is what the client believes it owes the farmer.
	Owed OwedReport `json:"owed"`
	// Claimed is the farmer's own accounting of this drive's account (GET
	// /v1/info), asked only by `farmers --settle`; ClaimError says why it
	// is missing.
	Claimed    *ClaimReport `json:"claimed,omitempty"`
	ClaimError string       `json:"claim_error,omitempty"`
}

// ClaimReport is a farmer's side of the accounting.
type ClaimReport struct {
	ByteHours float64 `json:"byte_hours"`
	Ingress   int64   `json:"ingress_bytes"`
	Egress    int64   `json:"egress_bytes"`
	Shards    int64   `json:"shards"`
	Stored    int64   `json:"stored_bytes"`
}

// OwedReport is the client's side of a farmer's accounting.
type OwedReport struct {
	ByteHours float64 `json:"byte_hours"`
	Ingress   int64   `json:"ingress_bytes"`
	Egress    int64   `json:"egress_bytes"`
}

// FarmersReply lists every farmer of the drive.
type FarmersReply struct {
	Farmers []FarmerReport `json:"farmers"`
}

// FarmerRequest names a farmer: an address (nodeid@host:port) to add, or an
// address or node ID to remove.
type FarmerRequest struct {
	Address string `json:"address"`
}

// VerifyRequest asks for an audit round; Full fetches every shard.
type VerifyRequest struct {
	Full bool `json:"full"`
}

// VerifyReply is the health report of verify.
type VerifyReply struct {
	Farmers    []FarmerAuditReport `json:"farmers"`
	Blocks     BlocksHealth        `json:"blocks"`
	Durability DurabilityReport    `json:"durability"`
}

// FarmerAuditReport is one farmer's part of a verify.
type FarmerAuditReport struct {
	NodeID     string `json:"node_id"`
	Address    string `json:"address"`
	Up         bool   `json:"up"`
	Passed     int    `json:"passed"`
	Failed     int    `json:"failed"`
	Unanswered int    `json:"unanswered"`
	Lost       int    `json:"lost"`
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	Error      string `json:"error,omitempty"`
}

// BlocksHealth counts blocks by healthy shards.
type BlocksHealth struct {
	Total int64 `json:"total"`
	K     int   `json:"k"`
	M     int   `json:"m"`
	// Threshold is the repair threshold: blocks with fewer healthy shards
	// are repaired.
	Threshold int `json:"repair_threshold"`
	// ByHealthy maps a healthy-shard count to the number of blocks with it.
	ByHealthy map[int]int64 `json:"by_healthy"`
	BelowFull int64         `json:"below_full"`      // fewer than k+m
	Below     int64         `json:"below_threshold"` // fewer than the threshold
	Lost      int64         `json:"unrecoverable"`   // fewer than k
}

// DurabilityReport is syncer.Durability for scripts.
type DurabilityReport struct {
	LossRate         float64 `json:"shard_loss_rate_per_year"`
	Availability     float64 `json:"farmer_availability"`
	WindowHours      float64 `json:"repair_window_hours"`
	BlockLossPerYear float64 `json:"block_loss_per_year"`
	DriveLossPerYear float64 `json:"drive_loss_per_year"`
	Unreadable       float64 `json:"block_unreadable"`
}

// RepairRequest asks for a repair pass; Wait answers once it is over.
type RepairRequest struct {
	Wait bool `json:"wait"`
}

// RepairReply is what a repair pass did (zero when not waited for).
type RepairReply struct {
	Blocks    int   `json:"blocks"`
	Shards    int   `json:"shards"`
	Bytes     int64 `json:"bytes"`
	Failed    int   `json:"failed"`
	Remaining int   `json:"remaining"`
	Started   bool  `json:"started"`
}

// farmersReport builds the farmer list from the metadata and what the
// network measured this run.
func farmersReport(ctx context.Context, db *cache.DB, stats []netclient.FarmerStats) (FarmersReply, error) {
	var hs []cache.Health
	if err := db.View(ctx, func(tx *cache.Tx) (err error) { hs, err = tx.Healths(); return err }); err != nil {
		return FarmersReply{}, err
	}
	live := make(map[string]netclient.FarmerStats, len(stats))
	for _, s := range stats {
		live[s.ID.String()] = s
	}
	var costs []float64
	cost := func(lat time.Duration, tput float64) float64 {
		c := lat.Seconds()
		if tput > 0 {
			c += float64(1<<20) / tput
		}
		return c
	}
	for _, h := range hs {
		if s, ok := live[h.NodeID]; ok && s.Latency > 0 {
			costs = append(costs, cost(s.Latency, s.Throughput))
		}
	}
	slices.Sort(costs)
	rep := FarmersReply{Farmers: []FarmerReport{}}
	for _, h := range hs {
		lat, tput := h.Latency, h.Throughput
		s, ok := live[h.NodeID]
		if ok {
			lat, tput = s.Latency, s.Throughput
		}
		up := h.DownSince.IsZero() && !(ok && s.Down)
		fr := FarmerReport{
			NodeID: h.NodeID, Address: h.Address, Region: h.Region, State: h.State, Reason: h.StateReason, Up: up,
			LatencyMS: float64(lat) / float64(time.Millisecond), Throughput: tput,
			AuditsPassed: h.AuditsPassed, AuditsFailed: h.AuditsFailed,
			AuditScore: syncer.Score(h.AuditAlpha, h.AuditBeta), Uptime: syncer.Score(h.UpAlpha, h.UpBeta),
			ShardsHeld: h.HeldShards, BytesHeld: h.HeldBytes, LostShards: h.LostShards,
			Owed: OwedReport{ByteHours: h.Ledger.ByteHours, Ingress: h.Ledger.Ingress, Egress: h.Ledger.Egress},
		}
		if !h.DownSince.IsZero() {
			t := h.DownSince.UTC()
			fr.DownSince = &t
		}
		speed := 1.0
		if len(costs) > 0 && lat > 0 {
			median := costs[len(costs)/2]
			if c := cost(lat, tput); c > median && c > 0 {
				speed = median / c
			}
		}
		fr.Reputation = fr.AuditScore * fr.Uptime * speed
		rep.Farmers = append(rep.Farmers, fr)
	}
	return rep, nil
}

// verifyReply runs a verify with keeper and builds its report.
func verifyReply(ctx context.Context, db *cache.DB, keeper *syncer.Keeper, full bool) (VerifyReply, error) {
	ar, err := keeper.Verify(ctx, full)
	if err != nil {
		return VerifyReply{}, err
	}
	rep := VerifyReply{Farmers: []FarmerAuditReport{}}
	for _, f := range ar.Farmers {
		rep.Farmers = append(rep.Farmers, FarmerAuditReport{NodeID: f.NodeID, Address: f.Address, Up: f.Up, Passed: f.Passed,
			Failed: f.Failed, Unanswered: f.Unanswered, Lost: f.Lost, State: f.State, Reason: f.Reason, Error: f.Err})
	}
	if err := db.View(ctx, func(tx *cache.Tx) error {
		c, err := tx.Drive()
		if err != nil {
			return err
		}
		b := &rep.Blocks
		b.K, b.M = c.DataShards, c.ParityShards
		if b.Threshold, err = tx.RepairThreshold(); err != nil {
			return err
		}
		if b.ByHealthy, err = tx.HealthCounts(); err != nil {
			return err
		}
		for n, count := range b.ByHealthy {
			b.Total += count
			if n < b.K+b.M {
				b.BelowFull += count
			}
			if n < b.Threshold {
				b.Below += count
			}
			if n < b.K {
				b.Lost += count
			}
		}
		return nil
	}); err != nil {
		return rep, err
	}
	d, err := keeper.Estimate(ctx)
	if err != nil {
		return rep, err
	}
	rep.Durability = DurabilityReport{LossRate: d.LossRate, Availability: d.Availability, WindowHours: d.Window.Hours(),
		BlockLossPerYear: d.BlockLossPerYear, DriveLossPerYear: d.DriveLossPerYear, Unreadable: d.Unreadable}
	return rep, nil
}

func repairReply(r syncer.RepairReport) RepairReply {
	return RepairReply{Blocks: r.Blocks, Shards: r.Shards, Bytes: r.Bytes, Failed: r.Failed, Remaining: r.Remaining, Started: true}
}

// Farmers lists the drive's farmers (for sessions without a daemon).
func (s *Session) Farmers(ctx context.Context) (FarmersReply, error) {
	return farmersReport(ctx, s.DB, s.Net.Stats())
}

// Settle lists the farmers with each one's own accounting beside the
// client's, so that payments can be settled from either side's records.
func (s *Session) Settle(ctx context.Context) (FarmersReply, error) {
	rep, err := s.Farmers(ctx)
	if err != nil {
		return rep, err
	}
	var wg sync.WaitGroup
	for i := range rep.Farmers {
		f := &rep.Farmers[i]
		if f.State == cache.StateRemoved {
			continue
		}
		id, err := format.ParseNodeID(f.NodeID)
		if err != nil {
			return rep, err
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			info, err := s.gate.FarmerInfo(cctx, id)
			if err != nil {
				f.ClaimError = err.Error()
				return
			}
			a := info.Account
			f.Claimed = &ClaimReport{ByteHours: a.ByteHours, Ingress: a.Ingress, Egress: a.Egress, Shards: a.Shards, Stored: a.Used}
		})
	}
	wg.Wait()
	return rep, nil
}

// Verify audits the farmers now (for sessions without a daemon).
func (s *Session) Verify(ctx context.Context, full bool) (VerifyReply, error) {
	k, err := s.NewKeeper(syncer.NewKeeperConfig())
	if err != nil {
		return VerifyReply{}, err
	}
	if err := k.ApplyStates(ctx); err != nil {
		return VerifyReply{}, err
	}
	return verifyReply(ctx, s.DB, k, full)
}

// Repair repairs every block below the threshold now, then stores the
// metadata backup naming the moved shards (for sessions without a daemon).
func (s *Session) Repair(ctx context.Context) (RepairReply, error) {
	k, err := s.NewKeeper(syncer.NewKeeperConfig())
	if err != nil {
		return RepairReply{}, err
	}
	if err := k.ApplyStates(ctx); err != nil {
		return RepairReply{}, err
	}
	r, err := k.Repair(ctx)
	if err != nil {
		return repairReply(r), err
	}
	b, err := s.NewBackup(ctx, syncer.NewBackupConfig())
	if err != nil {
		return repairReply(r), err
	}
	if err := b.Release(ctx); err != nil {
		return repairReply(r), fmt.Errorf("metadata backup: %w", err)
	}
	_ = s.Drive.CollectGarbage(ctx)
	// The backup round may have moved the metadata off a farmer being
	// removed: a second pass (nothing left to rebuild) finishes its removal.
	if _, err := k.Repair(ctx); err != nil {
		return repairReply(r), err
	}
	return repairReply(r), nil
}

// parseFarmerRequest decodes a FarmerRequest.
func parseFarmerRequest(r io.Reader) (FarmerRequest, error) {
	req, err := decodeJSON[FarmerRequest](r, false)
	if err != nil {
		return req, err
	}
	if req.Address == "" || len(req.Address) > 1024 {
		return req, fmt.Errorf("%w: farmer address of %d bytes", ErrBadRequest, len(req.Address))
	}
	return req, nil
}

// farmerID reads a node ID, or the node ID of an address.
func farmerID(s string) (format.NodeID, error) {
	if a, err := format.ParseAddress(s); err == nil {
		return a.ID, nil
	}
	id, err := format.ParseNodeID(s)
	if err != nil {
		return id, fmt.Errorf("%w: %q is neither a farmer address nor a node ID", ErrBadRequest, s)
	}
	return id, nil
}

// keeperController is what the control server needs for farmers, verify
// and repair.
type keeperController interface {
	farmers(ctx context.Context) (FarmersReply, error)
	settle(ctx context.Context) (FarmersReply, error)
	addFarmer(ctx context.Context, addr string) error
	removeFarmer(ctx context.Context, addr string) error
	verify(ctx context.Context, full bool) (VerifyReply, error)
	repair(ctx context.Context, wait bool) (RepairReply, error)
}

func handleKeeper(mux *http.ServeMux, c keeperController, reply func(http.ResponseWriter, any, error)) {
	mux.HandleFunc("GET /v1/farmers", func(w http.ResponseWriter, r *http.Request) {
		rep, err := c.farmers(r.Context())
		reply(w, rep, err)
	})
	mux.HandleFunc("POST /v1/farmers/settle", func(w http.ResponseWriter, r *http.Request) {
		if err := parseEmpty(r.Body); err != nil {
			reply(w, nil, err)
			return
		}
		rep, err := c.settle(r.Context())
		reply(w, rep, err)
	})
	mux.HandleFunc("POST /v1/farmers/add", func(w http.ResponseWriter, r *http.Request) {
		req, err := parseFarmerRequest(r.Body)
		if err == nil {
			err = c.addFarmer(r.Context(), req.Address)
		}
		reply(w, OKReply{OK: err == nil}, err)
	})
	mux.HandleFunc("POST /v1/farmers/remove", func(w http.ResponseWriter, r *http.Request) {
		req, err := parseFarmerRequest(r.Body)
		if err == nil {
			err = c.removeFarmer(r.Context(), req.Address)
		}
		reply(w, OKReply{OK: err == nil}, err)
	})
	mux.HandleFunc("POST /v1/verify", func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[VerifyRequest](r.Body, true)
		if err != nil {
			reply(w, nil, err)
			return
		}
		rep, err := c.verify(r.Context(), req.Full)
		reply(w, rep, err)
	})
	mux.HandleFunc("POST /v1/repair", func(w http.ResponseWriter, r *http.Request) {
		req, err := decodeJSON[RepairRequest](r.Body, true)
		if err != nil {
			reply(w, nil, err)
			return
		}
		rep, err := c.repair(r.Context(), req.Wait)
		reply(w, rep, err)
	})
}

// Farmers lists the drive's farmers.
func (c *Client) Farmers(ctx context.Context) (FarmersReply, error) {
	var rep FarmersReply
	return rep, c.call(ctx, http.MethodGet, "farmers", nil, &rep)
}

// Settle lists the farmers with their own accounting beside the client's.
func (c *Client) Settle(ctx context.Context) (FarmersReply, error) {
	var rep FarmersReply
	return rep, c.call(ctx, http.MethodPost, "farmers/settle", struct{}{}, &rep)
}

// AddFarmer adds a farmer to the running daemon's drive.
func (c *Client) AddFarmer(ctx context.Context, addr string) error {
	return c.call(ctx, http.MethodPost, "farmers/add", FarmerRequest{Address: addr}, &OKReply{})
}

// RemoveFarmer starts draining a farmer.
func (c *Client) RemoveFarmer(ctx context.Context, addr string) error {
	return c.call(ctx, http.MethodPost, "farmers/remove", FarmerRequest{Address: addr}, &OKReply{})
}

// Verify audits every farmer now.
func (c *Client) Verify(ctx context.Context, full bool) (VerifyReply, error) {
	var rep VerifyReply
	return rep, c.call(ctx, http.MethodPost, "verify", VerifyRequest{Full: full}, &rep)
}

// Repair starts a repair pass; with wait it answers once it is over.
func (c *Client) Repair(ctx context.Context, wait bool) (RepairReply, error) {
	var rep RepairReply
	return rep, c.call(ctx, http.MethodPost, "repair", RepairRequest{Wait: wait}, &rep)
}

// Daemon side.

func (d *Daemon) farmers(ctx context.Context) (FarmersReply, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return FarmersReply{}, err
	}
	defer leave()
	return d.sess.Farmers(ctx)
}

func (d *Daemon) settle(ctx context.Context) (FarmersReply, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return FarmersReply{}, err
	}
	defer leave()
	if err := d.sess.SaveFarmerStats(ctx); err != nil { // the ledger up to now
		return FarmersReply{}, err
	}
	return d.sess.Settle(ctx)
}

func (d *Daemon) addFarmer(ctx context.Context, s string) error {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	a, err := format.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err := d.sess.AddFarmer(ctx, a); err != nil {
		return err
	}
	d.keeper.Kick()
	return nil
}

func (d *Daemon) removeFarmer(ctx context.Context, s string) error {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	id, err := farmerID(s)
	if err != nil {
		return err
	}
	if err := d.sess.RemoveFarmer(ctx, id); err != nil {
		return err
	}
	d.keeper.Kick()
	return nil
}

func (d *Daemon) verify(ctx context.Context, full bool) (VerifyReply, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return VerifyReply{}, err
	}
	defer leave()
	return verifyReply(ctx, d.sess.DB, d.keeper, full)
}

func (d *Daemon) repair(ctx context.Context, wait bool) (RepairReply, error) {
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return RepairReply{}, err
	}
	defer leave()
	if !wait {
		d.keeper.Kick()
		return RepairReply{Started: true}, nil
	}
	r, err := d.keeper.Repair(ctx)
	if err == nil {
		d.backup.Kick()
	}
	return repairReply(r), err
}
