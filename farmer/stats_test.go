package farmer

import (
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/format"
)

// wantUsage is what a test sent an account's way.
type wantUsage struct {
	shards, stored, ingress, egress int64
}

func checkAccount(t *testing.T, what string, got AccountStats, want wantUsage, notBefore time.Time) {
	t.Helper()
	if got.Shards != want.shards || got.Stored != want.stored || got.Ingress != want.ingress || got.Egress != want.egress {
		t.Errorf("%s: %+v, want %+v", what, got, want)
	}
	if got.FirstSeen.Before(notBefore.Truncate(time.Second)) || got.FirstSeen.After(time.Now()) {
		t.Errorf("%s: first seen %v, not after %v", what, got.FirstSeen, notBefore)
	}
	if got.ByteHours < 0 {
		t.Errorf("%s: byte-hours %v", what, got.ByteHours)
	}
}

func statsOf(t *testing.T, dir string, now time.Time) (Stats, map[format.AccountID]AccountStats) {
	t.Helper()
	st, err := ReadStats(context.Background(), dir, now)
	if err != nil {
		t.Fatalf("ReadStats: %v", err)
	}
	m := make(map[format.AccountID]AccountStats)
	for _, a := range st.Accounts {
		m[a.Account] = a
	}
	if len(m) != len(st.Accounts) {
		t.Fatalf("an account listed twice: %+v", st.Accounts)
	}
	return st, m
}

func nearly(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestReadStats(t *testing.T) {
	start := time.Now()
	cfg := testConfig(t)
	f, addr := StartTest(t, cfg)
	keyA, acctA := newAccount(t)
	keyB, acctB := newAccount(t)
	a, b := newRawClient(t, f, addr, keyA), newRawClient(t, f, addr, keyB)

	// A: three shards, one deleted, reads whole and partial; B: one shard.
	rootA1, err := a.put(testData(1, 5000))
	if err != nil {
		t.Fatal(err)
	}
	rootA2, err := a.put(testData(2, 70000))
	if err != nil {
		t.Fatal(err)
	}
	rootA3, err := a.put(testData(3, 1000))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.put(testData(1, 5000)); err != nil { // a repeat: no ingress
		t.Fatal(err)
	}
	if _, _, err := a.do(http.MethodDelete, shardURL(rootA3), "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.get(rootA1, 0, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.get(rootA2, 20000, 10); err != nil { // one whole leaf is served
		t.Fatal(err)
	}
	if _, err := b.put(testData(4, 3000)); err != nil {
		t.Fatal(err)
	}
	wantA := wantUsage{shards: 2, stored: 75000, ingress: 76000, egress: 5000 + 16384}
	wantB := wantUsage{shards: 1, stored: 3000, ingress: 3000}

	// While the farmer runs: egress reaches the index at the next flush.
	if err := f.flush(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	st, m := statsOf(t, cfg.Dir, now)
	if !st.Running || st.NodeID != f.ID() || len(st.Accounts) != 2 {
		t.Fatalf("stats of a running farmer: %+v", st)
	}
	checkAccount(t, "A, running", m[acctA], wantA, start)
	checkAccount(t, "B, running", m[acctB], wantB, start)
	tot := st.Total()
	if tot.Shards != 3 || tot.Stored != 78000 || tot.Ingress != 79000 || tot.Egress != wantA.egress ||
		!nearly(tot.ByteHours, m[acctA].ByteHours+m[acctB].ByteHours) {
		t.Errorf("total = %+v", tot)
	}
	// Byte-hours accrue up to the time asked, at the stored bytes' rate.
	later, _ := statsOf(t, cfg.Dir, now.Add(2*time.Hour))
	if got := later.Total().ByteHours - tot.ByteHours; !nearly(got, 78000*2) {
		t.Errorf("two hours later: %v more byte-hours, want %v", got, 78000*2)
	}
	// Info says the same, accrued up to its answer.
	before, _ := statsOf(t, cfg.Dir, time.Now())
	info := b.info()
	after, _ := statsOf(t, cfg.Dir, time.Now())
	u := info.Account
	if u.Shards != 1 || u.Used != 3000 || u.Ingress != 3000 || u.Egress != 0 || u.ID != acctB {
		t.Errorf("info of B = %+v", u)
	}
	lo, hi := before.Accounts, after.Accounts
	for i := range lo {
		if lo[i].Account == acctB && (u.ByteHours < lo[i].ByteHours || u.ByteHours > hi[i].ByteHours) {
			t.Errorf("info byte-hours %v not within the stats around it [%v, %v]", u.ByteHours, lo[i].ByteHours, hi[i].ByteHours)
		}
		if lo[i].Account == acctB && !u.Since.Equal(lo[i].FirstSeen) {
			t.Errorf("info since %v, stats first seen %v", u.Since, lo[i].FirstSeen)
		}
	}

	// Once stopped: everything flushed, and no more accrual.
	if err := f.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, m = statsOf(t, cfg.Dir, time.Now())
	if st.Running {
		t.Fatal("a stopped farmer reported running")
	}
	checkAccount(t, "A, stopped", m[acctA], wantA, start)
	checkAccount(t, "B, stopped", m[acctB], wantB, start)
	later, _ = statsOf(t, cfg.Dir, time.Now().Add(24*time.Hour))
	if later.Total().ByteHours != st.Total().ByteHours {
		t.Errorf("a stopped farmer accrued: %v then %v", st.Total().ByteHours, later.Total().ByteHours)
	}
	// Reading wrote nothing the next start refuses, and left it the lock.
	StartTest(t, cfg)
	if st, m := statsOf(t, cfg.Dir, time.Now()); !st.Running || m[acctA].Stored != wantA.stored {
		t.Errorf("after a restart: running %v, %+v", st.Running, m[acctA])
	}
}

func TestReadStatsInfoUnknownAccount(t *testing.T) {
	f, addr := StartTest(t, testConfig(t))
	key, acct := newAccount(t)
	info := newRawClient(t, f, addr, key).info()
	if u := info.Account; u != (format.AccountUsage{ID: acct, Quota: f.cfg.Capacity}) {
		t.Fatalf("info of an account never seen = %+v", u)
	}
}

func TestReadStatsNotADataDir(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	noIndex := t.TempDir()
	if err := os.WriteFile(filepath.Join(noIndex, identityFile), encodeTestIdentity(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{
		"missing": filepath.Join(empty, "nope"), "empty": empty, "a file": file, "no index": noIndex,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadStats(context.Background(), dir, time.Now())
			if !errors.Is(err, ErrNotDataDir) || !errors.Is(err, ErrDataDir) {
				t.Fatalf("ReadStats(%s) = %v, want ErrNotDataDir", dir, err)
			}
		})
	}
	// Nothing was created in passing.
	if entries, _ := os.ReadDir(noIndex); len(entries) != 1 {
		t.Errorf("ReadStats created files: %v", entries)
	}
}

// encodeTestIdentity returns the bytes of a valid identity file.
func encodeTestIdentity(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := loadOrCreateIdentity(dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLockProbeDoesNotStopAStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "farm")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, lockFile)
	if held, err := lockHeld(path); err != nil || held {
		t.Fatalf("probe of a missing lock file = %v %v", held, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the probe created the lock file: %v", err)
	}
	l, err := lockDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := lockHeld(path); err != nil || !held {
		t.Fatalf("probe of a held lock = %v %v", held, err)
	}
	if err := l.unlock(); err != nil {
		t.Fatal(err)
	}
	if held, err := lockHeld(path); err != nil || held {
		t.Fatalf("probe of a released lock = %v %v", held, err)
	}
}

func TestRetryLocked(t *testing.T) {
	errBusy, errOther := errors.New("busy"), errors.New("other")
	isBusy := func(err error) bool { return errors.Is(err, errBusy) }
	for _, tc := range []struct {
		name    string
		results []error
		want    error
		calls   int
	}{
		{"free", []error{nil}, nil, 1},
		{"probe goes away", []error{errBusy, errBusy, nil}, nil, 3},
		{"held", []error{errBusy, errBusy, errBusy, errBusy, errBusy, nil}, errBusy, lockTries},
		{"other error", []error{errOther, nil}, errOther, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := retryLocked(func() error { calls++; return tc.results[calls-1] }, isBusy)
			if !errors.Is(err, tc.want) || err != nil && tc.want == nil || calls != tc.calls {
				t.Fatalf("retryLocked = %v after %d calls, want %v after %d", err, calls, tc.want, tc.calls)
			}
		})
	}
}
