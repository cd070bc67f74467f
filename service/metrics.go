package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/shardrive/shardrive/cache"
	"github.com/shardrive/shardrive/core/promtext"
)

// Metrics: the daemon's figures in the Prometheus text format on a
// loopback HTTP listener of their own (Config.Metrics), read on each
// scrape from what status reads, plus the network's byte counters and the
// keeper's audit and repair counts.

// farmerLabelLen is how much of a node ID labels a farmer's samples:
// enough to tell farmers apart, short enough to read.
const farmerLabelLen = 12

// listenMetrics opens the metrics listener on addr, which must be on
// loopback.
func listenMetrics(addr string) (net.Listener, error) {
	if err := promtext.CheckLoopback(addr); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("daemon: metrics: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close() // "localhost" resolved off loopback
		return nil, fmt.Errorf("daemon: metrics on %s: %w", ln.Addr(), promtext.ErrNotLoopback)
	}
	return ln, nil
}

// newMetricsServer serves GET /metrics for d.
func newMetricsServer(d *Daemon) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := d.writeMetrics(r.Context(), promtext.NewWriter(&b)); err != nil {
			if !errors.Is(err, ErrStopping) {
				d.log.Warn("metrics", "err", err)
			}
			http.Error(w, "metrics unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", promtext.ContentType)
		w.Write(b.Bytes())
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// writeMetrics writes the daemon's metrics.
func (d *Daemon) writeMetrics(ctx context.Context, w *promtext.Writer) error {
	st, err := d.status(ctx)
	if err != nil {
		return err
	}
	var oldest time.Duration
	ctx, leave, err := d.enter(ctx)
	if err != nil {
		return err
	}
	err = d.sess.DB.View(ctx, func(tx *cache.Tx) error {
		inos, err := tx.Changed(0, 1) // oldest first
		if err != nil || len(inos) == 0 {
			return err
		}
		since, ok, err := tx.ChangedSince(inos[0])
		if ok {
			oldest = max(0, time.Since(since))
		}
		return err
	})
	leave()
	if err != nil {
		return d.stopped(err)
	}
	tr := d.sess.Net.Traffic()
	w.Counter("shardrive_uploaded_bytes_total", "Shard and root record bytes stored on farmers since the daemon started.", float64(tr.Sent))
	w.Counter("shardrive_downloaded_bytes_total", "Verified shard and root record bytes read from farmers since the daemon started.", float64(tr.Received))
	u := st.Uploads
	w.Gauge("shardrive_upload_queue_files", "Files with changes not stored on the farmers yet.", float64(u.QueuedFiles))
	w.Gauge("shardrive_upload_queue_dirty_blocks", "Blocks newer than what the farmers hold.", float64(u.DirtyBlocks))
	w.Gauge("shardrive_upload_queue_dirty_bytes", "Bytes of the dirty blocks.", float64(u.DirtyBytes))
	w.Gauge("shardrive_upload_queue_oldest_seconds", "Age of the oldest queued change (since its file's last write); 0: none queued.", oldest.Seconds())
	w.Gauge("shardrive_uploading_blocks", "Blocks being uploaded now.", float64(u.UploadingBlocks))
	w.Gauge("shardrive_garbage_shards", "Shards waiting to be deleted from farmers.", float64(u.GarbageShards))
	c := st.Cache
	w.Gauge("shardrive_cache_bytes", "Bytes of the blocks in the local cache, clean and dirty.", float64(c.Bytes))
	w.Gauge("shardrive_cache_blocks", "Blocks in the local cache, clean and dirty.", float64(c.Blocks))
	w.Gauge("shardrive_cache_disk_bytes", "Disk space the local cache files take.", float64(c.DiskBytes))
	w.Gauge("shardrive_cache_max_bytes", "The local cache limit; 0: none.", float64(c.MaxBytes))
	if b := st.Backup; b != nil {
		w.Gauge("shardrive_backup_version", "Version of the newest metadata backup stored on the farmers; 0: none yet.", float64(b.Version))
		w.Gauge("shardrive_backup_pending", "1 while metadata changes wait for the next backup.", promtext.Bool(b.Pending))
		if b.Time != nil {
			w.Gauge("shardrive_backup_timestamp_seconds", "When the newest metadata backup was stored, Unix time.", float64(b.Time.UnixMilli())/1000)
		}
	}
	w.Family("shardrive_farmer_latency_seconds", promtext.Gauge, "Moving average of a farmer's small-call latency; absent until measured.")
	for _, f := range st.Farmers {
		if f.LatencyMS > 0 {
			w.Sample("shardrive_farmer_latency_seconds", f.LatencyMS/1000, promtext.L("farmer", farmerLabel(f.ID)))
		}
	}
	w.Family("shardrive_farmer_errors_total", promtext.Counter, "Failed calls a farmer is to blame for (bad data included); carried over from earlier runs.")
	for _, f := range st.Farmers {
		w.Sample("shardrive_farmer_errors_total", float64(f.Failures), promtext.L("farmer", farmerLabel(f.ID)))
	}
	w.Family("shardrive_farmer_up", promtext.Gauge, "1 if the farmer answered recently, 0 if it is down or was not asked yet.")
	for _, f := range st.Farmers {
		w.Sample("shardrive_farmer_up", promtext.Bool(f.State == FarmerUp), promtext.L("farmer", farmerLabel(f.ID)))
	}
	ks, _ := d.keeper.Stats()
	w.Family("shardrive_audits_total", promtext.Counter, "Audits this run, by result: passed, failed, unanswered.")
	w.Sample("shardrive_audits_total", float64(ks.AuditsPassed), promtext.L("result", "passed"))
	w.Sample("shardrive_audits_total", float64(ks.AuditsFailed), promtext.L("result", "failed"))
	w.Sample("shardrive_audits_total", float64(ks.AuditsUnanswered), promtext.L("result", "unanswered"))
	w.Counter("shardrive_audit_bytes_total", "Bytes the farmers' audit answers took this run.", float64(ks.AuditBytes))
	w.Counter("shardrive_repaired_shards_total", "Shards rebuilt and placed anew this run.", float64(ks.ShardsRepaired))
	w.Gauge("shardrive_paused", "1 while network traffic is paused (shardrive pause).", promtext.Bool(st.Daemon.Paused))
	w.Gauge("shardrive_read_only", "1 if the drive is mounted read-only (asked for, or another device took it over).", promtext.Bool(st.Daemon.ReadOnly))
	return w.Err()
}

// farmerLabel is the start of node ID id.
func farmerLabel(id string) string { return id[:min(len(id), farmerLabelLen)] }
