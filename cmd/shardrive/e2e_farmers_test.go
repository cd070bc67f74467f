//go:build unix

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardrive/shardrive/service"
)

func farmersJSON(t *testing.T, home string) map[string]service.FarmerReport {
	t.Helper()
	var rep service.FarmersReply
	if err := json.Unmarshal([]byte(mustRun(t, home, "farmers", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]service.FarmerReport)
	for _, f := range rep.Farmers {
		out[f.Address] = f
	}
	return out
}

// The farmer commands end to end over real shardfarmer processes, without
// a daemon: list, add, verify (with a farmer down), remove with its shards
// drained by repair --wait, and the file read back with the removed and
// the down farmer gone.
func TestFarmersVerifyRepairCommands(t *testing.T) {
	home, farmers := network(t, 8, 4, 2, "256KiB")
	src, want := randomFile(t, t.TempDir(), 3<<20)
	mustRun(t, home, "put", src, "/f.bin")

	fs := farmersJSON(t, home)
	var held int64
	for _, f := range farmers {
		r, ok := fs[f.addr]
		if !ok || r.State != "active" {
			t.Fatalf("farmer %s: %+v", f.addr, r)
		}
		held += r.ShardsHeld
	}
	if held < 12*6 { // 12 file blocks of 6 shards, plus the metadata backup's
		t.Fatalf("farmers hold %d shards, want at least 72", held)
	}
	var ingress int64
	for _, f := range fs {
		ingress += f.Owed.Ingress
	}
	if ingress < 3<<20 { // 1.5 times the file went out, as shards
		t.Fatalf("the ledger records %d bytes uploaded, want at least the file's 3 MiB", ingress)
	}
	// Both sides of the accounting: the farmers' own records of this
	// drive's account agree with the drive's on what was uploaded.
	var settled service.FarmersReply
	if err := json.Unmarshal([]byte(mustRun(t, home, "farmers", "--settle", "--json")), &settled); err != nil {
		t.Fatal(err)
	}
	for _, f := range settled.Farmers {
		if f.Claimed == nil {
			t.Fatalf("farmer %s gave no accounting: %s", f.Address, f.ClaimError)
		}
		if f.Claimed.Ingress < f.Owed.Ingress*9/10 || f.Claimed.Shards != f.ShardsHeld {
			t.Errorf("farmer %s: claims %+v, the drive believes ingress %d and %d shards", f.Address, *f.Claimed, f.Owed.Ingress, f.ShardsHeld)
		}
	}
	if out := mustRun(t, home, "farmers", "--settle"); !strings.Contains(out, "GB-HOURS drive/farmer") {
		t.Fatalf("farmers --settle:\n%s", out)
	}
	if out := mustRun(t, home, "farmers"); !strings.Contains(out, "REPUTATION") || !strings.Contains(out, farmers[0].addr) {
		t.Fatalf("farmers table:\n%s", out)
	}

	extra := startFarmer(t, filepath.Join(t.TempDir(), "farm9"))
	mustRun(t, home, "farmers", "add", extra.addr)
	if r := shardrive(t, home, nil, "farmers", "add", extra.addr); r.code != exitUsage {
		t.Fatalf("adding a farmer twice: exit %d (%s)", r.code, r.stderr)
	}
	if _, ok := farmersJSON(t, home)[extra.addr]; !ok {
		t.Fatal("added farmer not listed")
	}

	farmers[2].stop(t)
	out := mustRun(t, home, "verify")
	for _, w := range []string{"DOWN " + farmers[2].addr, "blocks below k+m", "estimated chance of losing a block per year"} {
		if !strings.Contains(out, w) {
			t.Fatalf("verify output lacks %q:\n%s", w, out)
		}
	}
	var vr service.VerifyReply
	if err := json.Unmarshal([]byte(mustRun(t, home, "verify", "--full", "--json")), &vr); err != nil {
		t.Fatal(err)
	}
	for _, f := range vr.Farmers {
		if f.Failed != 0 {
			t.Fatalf("an honest farmer failed verify --full: %+v", f)
		}
	}
	if vr.Blocks.Lost != 0 || vr.Durability.BlockLossPerYear <= 0 {
		t.Fatalf("verify --full: %+v", vr)
	}

	gone := farmers[5]
	mustRun(t, home, "farmers", "remove", gone.addr)
	if r := fs[gone.addr]; r.ShardsHeld == 0 {
		t.Fatal("the removed farmer held nothing to drain")
	}
	mustRun(t, home, "repair", "--wait")
	if r := farmersJSON(t, home)[gone.addr]; r.State != "removed" || r.ShardsHeld != 0 {
		t.Fatalf("after repair --wait the removed farmer is %s holding %d", r.State, r.ShardsHeld)
	}
	gone.stop(t)
	dst := filepath.Join(t.TempDir(), "copy")
	mustRun(t, home, "get", "/f.bin", dst)
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, want) {
		t.Fatal("file differs after the drain")
	}
}

// wipeShards deletes every shard file of a farmer's data directory while
// it runs: a farmer that silently lost its disk but keeps answering.
func wipeShards(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && len(d.Name()) == 64 && strings.Trim(d.Name(), "0123456789abcdef") == "" {
			n++
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The daemon keeps the network honest by itself: a farmer whose shards
// are silently wiped is caught by audits and one killed for good is
// disqualified once unreachable; both are repaired around, and with both
// gone every file reads back bit-identical from the remaining farmers.
func TestDaemonAuditsAndRepairs(t *testing.T) {
	requireFUSE(t)
	home, farmers := network(t, 8, 4, 2, "256KiB")
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mountDaemon(t, home, mnt, "--write-back", "100ms", "--audit-interval", "300ms",
		"--suspend-offline", "500ms", "--disqualify-offline", "1s")
	want := make(map[string][]byte)
	for i := range 6 {
		b := make([]byte, 700<<10+i*1000)
		rand.Read(b)
		name := filepath.Join(mnt, fmt.Sprintf("f%d", i))
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
		want[name] = b
	}
	mustRun(t, home, "sync", "--wait")

	wiped, killed := farmers[1], farmers[6]
	if n := wipeShards(t, wiped.dir); n == 0 {
		t.Fatal("the farmer to wipe held no shard files")
	}
	killed.cmd.Process.Kill()
	<-killed.done

	// A bound, not a measurement: the daemon audits every 300 ms.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		fs := farmersJSON(t, home)
		w, k := fs[wiped.addr], fs[killed.addr]
		if w.State == "disqualified" && k.State == "disqualified" && w.ShardsHeld == 0 && k.ShardsHeld == 0 {
			if w.AuditsFailed == 0 {
				t.Fatalf("the wiped farmer was disqualified without failing an audit: %+v", w)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2 minutes: wiped %+v\nkilled %+v", w, k)
		}
		time.Sleep(300 * time.Millisecond)
	}
	var vr service.VerifyReply
	if err := json.Unmarshal([]byte(mustRun(t, home, "verify", "--json")), &vr); err != nil {
		t.Fatal(err)
	}
	if vr.Blocks.BelowFull != 0 {
		t.Fatalf("blocks below k+m after the repair: %+v", vr.Blocks)
	}
	wiped.stop(t)
	mustRun(t, home, "cache", "clear")
	for name, b := range want {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("%s reads back different bytes after the repair", name)
		}
	}
}
