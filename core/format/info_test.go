package format

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// infoV1 is Info as clients built before accounting and regions decode it.
type infoV1 struct {
	NodeID       NodeID `json:"node_id"`
	Software     string `json:"software"`
	Protocol     int    `json:"protocol"`
	Capacity     int64  `json:"capacity"`
	Used         int64  `json:"used"`
	Free         int64  `json:"free"`
	MaxShardSize int64  `json:"max_shard_size"`
	Account      struct {
		ID     AccountID `json:"id"`
		Quota  int64     `json:"quota"`
		Used   int64     `json:"used"`
		Shards int64     `json:"shards"`
		Egress int64     `json:"egress"`
	} `json:"account"`
}

func TestInfoJSON(t *testing.T) {
	node, key := goldenKeys()
	acct, err := AccountIDFromKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	info := Info{NodeID: node, Software: "shardfarmer 1.0", Protocol: ProtocolVersion, Capacity: 1 << 30,
		Used: 4096, Free: 1<<30 - 4096, MaxShardSize: MaxShardSize, Region: "eu-west",
		Account: AccountUsage{ID: acct, Quota: 1 << 30, Used: 4096, Shards: 2, Egress: 100,
			ByteHours: 1.5, Ingress: 5000, Since: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	// The layout docs/format/wire.md shows.
	for _, want := range []string{`"region":"eu-west"`, `"byte_hours":1.5`, `"ingress":5000`, `"since":"2030-01-02T03:04:05Z"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Info JSON lacks %s: %s", want, b)
		}
	}
	var back Info
	if err := json.Unmarshal(b, &back); err != nil || back != info {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, info)
	}
	// An old client reads a new answer: the fields it knows are intact.
	var old infoV1
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&old); err != nil || old.NodeID != node || old.Account.ID != acct || old.Account.Egress != 100 {
		t.Fatalf("old client decode: %+v, %v", old, err)
	}
	// A new client reads an old farmer's answer: the new fields are zero.
	ob, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	back = Info{}
	if err := json.Unmarshal(ob, &back); err != nil {
		t.Fatal(err)
	}
	if back.Region != "" || back.Account.ByteHours != 0 || back.Account.Ingress != 0 || !back.Account.Since.IsZero() ||
		back.Account.Shards != 2 {
		t.Fatalf("new client decoding an old answer: %+v", back)
	}
	// No region and an account never seen: both fields are left out.
	b, err = json.Marshal(Info{NodeID: node, Account: AccountUsage{ID: acct}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "region") || strings.Contains(string(b), "since") {
		t.Fatalf("empty region or zero since written: %s", b)
	}
}

func TestCheckRegion(t *testing.T) {
	for _, tc := range []struct {
		region string
		ok     bool
	}{
		{"", true},
		{"eu-west", true},
		{"us east 2", true},
		{"Zürich/ZH", true},
		{strings.Repeat("x", MaxRegionLen), true},
		{strings.Repeat("x", MaxRegionLen+1), false},
		{strings.Repeat("é", MaxRegionLen/2+1), false}, // 66 bytes, 33 characters
		{" eu", false},
		{"eu ", false},
		{"eu\twest", false},
		{"eu\nwest", false},
		{"eu\x00", false},
		{"eu\u200bwest", false}, // zero-width space
		{"\xff\xfe", false},
	} {
		err := CheckRegion(tc.region)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrBadRegion) {
			t.Errorf("CheckRegion(%q) = %v, want ok=%v", tc.region, err, tc.ok)
		}
	}
}

func FuzzCheckRegion(f *testing.F) {
	f.Add("eu-west")
	f.Add(" x")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		if CheckRegion(s) != nil {
			return
		}
		// What passes fits the limit and survives JSON unchanged.
		if len(s) > MaxRegionLen {
			t.Fatalf("%d bytes accepted", len(s))
		}
		b, err := json.Marshal(Info{Region: s})
		if err != nil {
			t.Fatal(err)
		}
		var back Info
		if err := json.Unmarshal(b, &back); err != nil || back.Region != s {
			t.Fatalf("region %q came back %q, %v", s, back.Region, err)
		}
	})
}
