package farmer

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/shardrive/shardrive/core/promtext"
)

// scrape reads url and returns its samples by their name and labels, as
// the exposition format spells them.
func scrape(tb testing.TB, url string) map[string]string {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != promtext.ContentType {
		tb.Fatalf("GET %s: %d %q %v\n%s", url, resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
	}
	out := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			tb.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = line[i+1:]
	}
	return out
}

func TestFarmerMetrics(t *testing.T) {
	f, addr := StartTest(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- f.ServeMetrics(ln) }()
	url := "http://" + ln.Addr().String() + "/metrics"

	m := scrape(t, url)
	if m["shardfarmer_stored_bytes"] != "0" || m["shardfarmer_shards"] != "0" || m["shardfarmer_accounts"] != "0" {
		t.Fatalf("fresh farmer: %v", m)
	}
	key, _ := newAccount(t)
	c := newRawClient(t, f, addr, key)
	data := testData(1, 5000)
	root, err := c.put(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.get(root, 0, -1); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := c.do(http.MethodGet, shardURL(root)+"x", "", nil); code < 400 || code >= 500 {
		t.Fatalf("bad path answered %d", code)
	}
	m = scrape(t, url)
	for name, want := range map[string]string{
		"shardfarmer_stored_bytes":                             "5000",
		"shardfarmer_shards":                                   "1",
		"shardfarmer_accounts":                                 "1",
		"shardfarmer_ingress_bytes_total":                      "5000",
		"shardfarmer_egress_bytes_total":                       "5000",
		"shardfarmer_capacity_bytes":                           "1073741824",
		`shardfarmer_requests_total{method="PUT",class="2xx"}`: "1",
		`shardfarmer_requests_total{method="GET",class="2xx"}`: "1",
		`shardfarmer_requests_total{method="GET",class="4xx"}`: "1",
		"shardfarmer_errors_total":                             "0",
	} {
		if m[name] != want {
			t.Errorf("%s = %q, want %q", name, m[name], want)
		}
	}
	if _, ok := m["shardfarmer_stored_byte_hours_total"]; !ok {
		t.Error("no byte-hours")
	}
	for k := range m {
		if strings.Contains(k, "account=") {
			t.Errorf("a sample labelled by account: %s", k)
		}
	}

	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatalf("ServeMetrics after shutdown: %v", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("metrics still served after shutdown")
	}
}

func TestFarmerMetricsRefusesNonLoopback(t *testing.T) {
	f, _ := StartTest(t, Config{})
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip("no wildcard listener here:", err)
	}
	if err := f.ServeMetrics(ln); !errors.Is(err, ErrMetricsAddr) {
		t.Fatalf("ServeMetrics on %s: %v, want ErrMetricsAddr", ln.Addr(), err)
	}
}
