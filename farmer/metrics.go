package farmer

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/shardrive/shardrive/core/promtext"
)

// Metrics: the farmer's figures in the Prometheus text format, served on a
// loopback listener of their own (ServeMetrics), never on the API's.
// Accounting is exported as totals over all accounts plus their number:
// labelling by account ID would hand whoever scrapes a list of who stores
// here and how much.

// Request methods and status classes counted; anything else a client sends
// counts as "other", so a client cannot grow the label set.
var (
	countedMethods = [...]string{http.MethodGet, http.MethodPut, http.MethodDelete, "other"}
	statusClasses  = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}
)

// requestCounts counts answered requests by method and status class.
type requestCounts struct {
	n [len(countedMethods)][len(statusClasses)]atomic.Int64
}

func (c *requestCounts) add(method string, status int) {
	m := len(countedMethods) - 1
	for i, cm := range countedMethods[:m] {
		if method == cm {
			m = i
		}
	}
	s := status / 100
	if s < 1 || s >= len(statusClasses) {
		s = 0
	}
	c.n[m][s].Add(1)
}

// usageTotals is the usage table summed over all accounts.
type usageTotals struct {
	accounts                        int64
	stored, shards, ingress, egress int64
	byteHours                       float64
}

// usageTotals sums the usage table, byte-hours accrued up to now.
func (ix *index) usageTotals(ctx context.Context, now time.Time) (usageTotals, error) {
	var u usageTotals
	err := ix.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(stored_bytes), 0), coalesce(sum(shard_count), 0),
		coalesce(sum(ingress_bytes), 0), coalesce(sum(egress_bytes), 0),
		coalesce(sum(byte_hours + stored_bytes * max(0, :now - accrued_unix) / 3600.0), 0) FROM usage`,
		sql.Named("now", now.Unix())).Scan(&u.accounts, &u.stored, &u.shards, &u.ingress, &u.egress, &u.byteHours)
	return u, err
}

// pendingTotal is the egress counted but not yet flushed to the index.
func (e *egress) pendingTotal() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, v := range e.pending {
		n += v
	}
	return n
}

// WriteMetrics writes the farmer's metrics in the Prometheus text format.
func (f *Farmer) WriteMetrics(ctx context.Context, w *promtext.Writer) error {
	u, err := f.index.usageTotals(ctx, time.Now())
	if err != nil {
		return fmt.Errorf("farmer metrics: %w", err)
	}
	f.space.mu.Lock()
	used, reserved := f.space.used, f.space.reserved
	f.space.mu.Unlock()
	w.Gauge("shardfarmer_stored_bytes", "Bytes of shards and root records stored, all accounts together.", float64(used))
	w.Gauge("shardfarmer_reserved_bytes", "Bytes reserved by uploads in flight.", float64(reserved))
	w.Gauge("shardfarmer_capacity_bytes", "The configured capacity.", float64(f.cfg.Capacity))
	w.Gauge("shardfarmer_shards", "Shards stored, all accounts together.", float64(u.shards))
	w.Gauge("shardfarmer_accounts", "Accounts with a row in the accounting (never labelled one by one).", float64(u.accounts))
	w.Counter("shardfarmer_stored_byte_hours_total", "Byte-hours stored, all accounts together: the storage accounting.", u.byteHours)
	w.Counter("shardfarmer_ingress_bytes_total", "Shard bytes accepted, all accounts together.", float64(u.ingress))
	w.Counter("shardfarmer_egress_bytes_total", "Shard bytes served, all accounts together.", float64(u.egress+f.egress.pendingTotal()))
	w.Family("shardfarmer_requests_total", promtext.Counter, "API requests answered since start, by method and status class.")
	for m, method := range countedMethods {
		for s, class := range statusClasses {
			if n := f.requests.n[m][s].Load(); n > 0 {
				w.Sample("shardfarmer_requests_total", float64(n), promtext.L("method", method), promtext.L("class", class))
			}
		}
	}
	var serverErrors int64
	for m := range countedMethods {
		serverErrors += f.requests.n[m][5].Load()
	}
	w.Counter("shardfarmer_errors_total", "API requests answered with a server error (5xx) since start.", float64(serverErrors))
	return w.Err()
}

// metricsHandler serves GET /metrics.
func (f *Farmer) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := f.WriteMetrics(r.Context(), promtext.NewWriter(&b)); err != nil {
			f.log.Warn("metrics", "err", err)
			http.Error(w, "metrics unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", promtext.ContentType)
		w.Write(b.Bytes())
	})
	return mux
}

// ErrMetricsAddr reports a metrics listener off loopback.
var ErrMetricsAddr = promtext.ErrNotLoopback

// ServeMetrics serves GET /metrics in plain HTTP on ln, which must be a
// loopback listener, until Shutdown; then it returns nil. It closes ln.
func (f *Farmer) ServeMetrics(ln net.Listener) error {
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return fmt.Errorf("farmer: metrics on %s: %w", ln.Addr(), ErrMetricsAddr)
	}
	f.mu.Lock()
	if f.closed || f.metricsSrv != nil {
		closed := f.closed
		f.mu.Unlock()
		ln.Close()
		if closed {
			return ErrClosed
		}
		return errors.New("farmer: already serving metrics")
	}
	srv := &http.Server{Handler: f.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	f.metricsSrv = srv
	f.mu.Unlock()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("farmer: serve metrics: %w", err)
	}
	return nil
}
