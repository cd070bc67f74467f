package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
)

func TestFarmerCommandMetrics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "farm")
	p := startRun(t, "--dir", dir, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	m := regexp.MustCompile(`serving metrics.* addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", p.stderr)
	}
	url := "http://" + m[1] + "/metrics"
	c := netclient.NewFarmerClient(p.addr, testAccountKey(), netclient.NewFarmerConfig())
	defer c.Close()
	data := bytes.Repeat([]byte("shard"), 2000)
	if err := c.PutShard(context.Background(), merkle.RootOf(data), data); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"\nshardfarmer_stored_bytes 10000\n",
		"\nshardfarmer_shards 1\n",
		"\nshardfarmer_accounts 1\n",
		"\n" + `shardfarmer_requests_total{method="PUT",class="2xx"} 1` + "\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", strings.TrimSpace(want), body)
		}
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("metrics still served after the farmer stopped")
	}
}

func TestFarmerCommandMetricsRefusesNonLoopback(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "farm")
	code, out, errOut := runCmd("run", "--dir", dir, "--listen", "127.0.0.1:0", "--metrics", "0.0.0.0:9100")
	if code != exitUsage || !strings.Contains(errOut, "loopback") || strings.Contains(out, "farmer ready") {
		t.Fatalf("--metrics 0.0.0.0:9100: exit %d, stderr %q", code, errOut)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(configPath(dir), []byte("version = 1\nmetrics = 192.0.2.1:9100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd("run", "--dir", dir, "--listen", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(errOut, "loopback") {
		t.Fatalf("metrics key off loopback: exit %d, stderr %q", code, errOut)
	}
}
