package format

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/shardrive/shardrive/core/merkle"
)

// Golden vectors: the signed string, a signature and a range body, as
// docs/format/wire.md shows them. A change here is a protocol change.
const (
	goldenCanonical = "shardrive-request-v1\n" +
		"GET\n" +
		"/v1/shards/8e78779af2f7e3e7a3c51c0fdb1dff34f96079017bf7769ab43441c09ebe9873\n" +
		"length=-1&offset=0\n" +
		"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262\n" +
		"hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iuq\n" +
		"z3gbkb64dxoxffmvdquqrchqsww3sbcndnz5nfxg34df22b32t6a\n" +
		"1893456000000\n" +
		"000102030405060708090a0b0c0d0e0f"
	goldenSignature = "Ev6INhA0fcOsrN0cq0T2MNyA0a6TvBKXO7rd/wzbcUexyl0c9hqBokUBZtY+tZXoHiFNmZN/g8rf42NcFuALDA"
	goldenRangeHex  = "534452470100000000000000000040030000000100000001000180b6a77588fe086891d4d4c4fb5b7f094af2dde815c9ca58ddf63200422d58260000000000000003454647"
)

func goldenKeys() (farmer NodeID, account ed25519.PrivateKey) {
	fk := ed25519.NewKeyFromSeed(make([]byte, 32))
	farmer, _ = NodeIDFromKey(fk.Public().(ed25519.PublicKey))
	seed := make([]byte, 32)
	seed[0] = 1
	return farmer, ed25519.NewKeyFromSeed(seed)
}

func TestFormatGoldenRequest(t *testing.T) {
	farmer, key := goldenKeys()
	acct, _ := AccountIDFromKey(key.Public().(ed25519.PublicKey))
	ts := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	u, _ := url.Parse("https://farmer.example:7001/v1/shards/" + merkle.RootOf(nil).String() + "?offset=0&length=-1")
	body := EmptyBodyHash()
	h := signedHeaders{
		account:   acct.String(),
		farmer:    farmer.String(),
		timestamp: "1893456000000",
		nonce:     "000102030405060708090a0b0c0d0e0f",
		bodyHash:  hex.EncodeToString(body[:]),
	}
	msg, err := canonical("GET", u, h)
	if err != nil {
		t.Fatal(err)
	}
	if string(msg) != goldenCanonical {
		t.Fatalf("canonical string changed:\n%s\nwant:\n%s", msg, goldenCanonical)
	}
	sig := base64.RawStdEncoding.EncodeToString(ed25519.Sign(key, msg))
	if sig != goldenSignature {
		t.Fatalf("signature = %s, want %s", sig, goldenSignature)
	}
	req := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
	req.Header.Set(HeaderAccount, h.account)
	req.Header.Set(HeaderFarmer, h.farmer)
	req.Header.Set(HeaderTimestamp, h.timestamp)
	req.Header.Set(HeaderNonce, h.nonce)
	req.Header.Set(HeaderBodyHash, h.bodyHash)
	req.Header.Set(HeaderSignature, goldenSignature)
	v := newTestVerifier(t, farmer, ts.Add(-time.Hour), 0)
	if _, err := v.Verify(req, ts); err != nil {
		t.Fatalf("golden request refused: %v", err)
	}
}

func TestFormatGoldenRange(t *testing.T) {
	data := make([]byte, merkle.LeafSize+3)
	for i := range data {
		data[i] = byte(i % 251)
	}
	r := rangeOf(t, data, merkle.LeafSize, 3)
	b, err := EncodeRange(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != goldenRangeHex {
		t.Fatalf("range encoding changed:\n%s\nwant\n%s", got, goldenRangeHex)
	}
}
