//go:build unix

package main

import (
	"bufio"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shardrive/shardrive/core/promtext"
)

var metricsAddrLog = regexp.MustCompile(`serving metrics.* addr=(127\.0\.0\.1:\d+)`)

// scrapeDaemon reads the metrics of daemon d (started with a metrics
// address) and returns its samples by name and labels.
func scrapeDaemon(t *testing.T, d *daemonProc) map[string]float64 {
	t.Helper()
	m := metricsAddrLog.FindStringSubmatch(d.logText())
	if m == nil {
		t.Fatalf("the daemon logs no metrics address:\n%s", d.logText())
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != promtext.ContentType {
		t.Fatalf("GET /metrics: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countPrefix counts the samples whose name and labels start with p.
func countPrefix(m map[string]float64, p string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, p) {
			n++
		}
	}
	return n
}
