package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
	"github.com/shardrive/shardrive/core/merkle"
	"github.com/shardrive/shardrive/netclient"
)

// statsOut runs "stats --json" on dir and decodes it strictly.
func statsOut(t *testing.T, dir string) statsJSON {
	t.Helper()
	code, out, errOut := runCmd("stats", "--dir", dir, "--json")
	if code != exitOK {
		t.Fatalf("stats --json: exit %d; stderr:\n%s", code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var st statsJSON
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("stats --json: %v\n%s", err, out)
	}
	if st.Version != 1 || st.Accounts == nil {
		t.Fatalf("stats --json: version %d, accounts %v", st.Version, st.Accounts)
	}
	return st
}

func accountID(t *testing.T, key ed25519.PrivateKey) format.AccountID {
	t.Helper()
	id, err := format.AccountIDFromKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestFarmerCommandStats(t *testing.T) {
	start := time.Now().UTC().Truncate(time.Second)
	dir := filepath.Join(t.TempDir(), "farm")
	p := startRun(t, "--dir", dir, "--listen", "127.0.0.1:0")
	if st := statsOut(t, dir); !st.Running || st.NodeID != p.addr.ID || len(st.Accounts) != 0 || st.Total.Accounts != 0 {
		t.Fatalf("stats of a new farmer: %+v", st)
	}
	code, out, _ := runCmd("stats", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "running") || !strings.Contains(out, "no accounts") {
		t.Fatalf("stats of a new farmer: exit %d\n%s", code, out)
	}

	ctx := context.Background()
	keyA, keyB := testAccountKey(), testAccountKey()
	a := netclient.NewFarmerClient(p.addr, keyA, netclient.NewFarmerConfig())
	defer a.Close()
	b := netclient.NewFarmerClient(p.addr, keyB, netclient.NewFarmerConfig())
	defer b.Close()
	put := func(c *netclient.FarmerClient, data []byte) merkle.Root {
		t.Helper()
		root := merkle.RootOf(data)
		if err := c.PutShard(ctx, root, data); err != nil {
			t.Fatal(err)
		}
		return root
	}
	a1 := put(a, []byte(strings.Repeat("a", 40000)))
	a2 := put(a, []byte(strings.Repeat("b", 3000)))
	a3 := put(a, []byte(strings.Repeat("c", 500)))
	put(a, []byte(strings.Repeat("a", 40000))) // a repeat: no ingress
	if err := a.DeleteShard(ctx, a3); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetShard(ctx, a1, 0, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GetShard(ctx, a2, 10, 20); err != nil { // its one leaf: 3000 bytes
		t.Fatal(err)
	}
	put(b, []byte(strings.Repeat("d", 7000)))
	wantA := accountStatsJSON{Account: accountID(t, keyA), Shards: 2, Stored: 43000, Ingress: 43500, Egress: 43000}
	wantB := accountStatsJSON{Account: accountID(t, keyB), Shards: 1, Stored: 7000, Ingress: 7000}

	check := func(st statsJSON, running bool) {
		t.Helper()
		if st.Running != running || len(st.Accounts) != 2 || st.Total.Accounts != 2 {
			t.Fatalf("stats (running %v): %+v", running, st)
		}
		got := map[format.AccountID]accountStatsJSON{}
		for _, x := range st.Accounts {
			got[x.Account] = x
		}
		for _, want := range []accountStatsJSON{wantA, wantB} {
			g := got[want.Account]
			// A running farmer writes egress to its index once a minute.
			egressOK := g.Egress == want.Egress || running && g.Egress >= 0 && g.Egress < want.Egress
			if g.Shards != want.Shards || g.Stored != want.Stored || g.Ingress != want.Ingress || !egressOK {
				t.Errorf("account %s: %+v, want %+v", want.Account, g, want)
			}
			if g.FirstSeen.Before(start) || g.FirstSeen.After(st.At) || g.ByteHours < 0 {
				t.Errorf("account %s: first seen %v (test started %v, stats at %v), byte-hours %v",
					want.Account, g.FirstSeen, start, st.At, g.ByteHours)
			}
		}
		tot := st.Total
		if tot.Shards != 3 || tot.Stored != 50000 || tot.Ingress != 50500 ||
			tot.ByteHours != got[wantA.Account].ByteHours+got[wantB.Account].ByteHours {
			t.Errorf("total %+v", tot)
		}
	}
	// While the farmer runs, the index is read beside it.
	running := statsOut(t, dir)
	check(running, true)
	// Byte-hours match what the farmer says over the wire (accrued to
	// the second of each answer, so the stats around it bound it).
	info, err := b.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := statsOut(t, dir)
	for i, x := range running.Accounts {
		if x.Account == wantB.Account && (info.Account.ByteHours < x.ByteHours || info.Account.ByteHours > after.Accounts[i].ByteHours) {
			t.Errorf("info byte-hours %v outside the stats around it [%v, %v]", info.Account.ByteHours, x.ByteHours, after.Accounts[i].ByteHours)
		}
	}
	code, out, _ = runCmd("stats", "--dir", dir)
	for _, want := range []string{wantA.Account.String(), wantB.Account.String(), "TOTAL (2 accounts)", "42 KiB", "6.8 KiB"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("stats table lacks %q (exit %d):\n%s", want, code, out)
		}
	}

	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, p.stderr)
	}
	// Stopped: everything flushed, nothing accrues, and the farmer starts
	// again on the directory stats read.
	stopped := statsOut(t, dir)
	check(stopped, false)
	if again := statsOut(t, dir); again.Total.ByteHours != stopped.Total.ByteHours {
		t.Errorf("a stopped farmer's byte-hours grew: %v then %v", stopped.Total.ByteHours, again.Total.ByteHours)
	}
	code, out, _ = runCmd("stats", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "stopped") {
		t.Errorf("stats table of a stopped farmer (exit %d):\n%s", code, out)
	}
	p2 := startRun(t, "--dir", dir, "--listen", "127.0.0.1:0")
	if code := p2.stop(t); code != exitOK {
		t.Fatalf("restart after stats: exit %d; stderr:\n%s", code, p2.stderr)
	}
}

func TestFarmerCommandStatsNotADataDir(t *testing.T) {
	for name, dir := range map[string]string{
		"empty":   t.TempDir(),
		"missing": filepath.Join(t.TempDir(), "nope"),
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCmd("stats", "--dir", dir)
			if code != exitDataDir || out != "" || !strings.Contains(errOut, "not a farmer data directory") {
				t.Fatalf("stats --dir %s: exit %d, stdout %q, stderr %q", dir, code, out, errOut)
			}
		})
	}
}

func TestFarmerCommandRegion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "farm")
	p := startRun(t, "--dir", dir, "--listen", "127.0.0.1:0", "--region", "eu-west")
	c := netclient.NewFarmerClient(p.addr, testAccountKey(), netclient.NewFarmerConfig())
	defer c.Close()
	info, err := c.Info(context.Background())
	if err != nil || info.Region != "eu-west" {
		t.Fatalf("info region = %q, %v", info.Region, err)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	// From the configuration file; a flag wins over it.
	if err := os.WriteFile(configPath(dir), []byte("version = 1\nregion = us east 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCmd("run", "--dir", dir, "--check"); code != exitOK || !strings.Contains(out, `region "us east 2"`) {
		t.Fatalf("run --check with a region key: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := runCmd("run", "--dir", dir, "--check", "--region", "ap"); code != exitOK || !strings.Contains(out, `region "ap"`) {
		t.Fatalf("--region over the file: exit %d, %q", code, out)
	}
	for _, bad := range []string{strings.Repeat("x", 65), "tab\there", " lead"} {
		if code, _, errOut := runCmd("run", "--dir", dir, "--check", "--region", bad); code != exitUsage || !strings.Contains(errOut, "region") {
			t.Errorf("--region %q: exit %d, stderr %q", bad, code, errOut)
		}
	}
}
