package format

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zeebo/blake3"

	"github.com/shardrive/shardrive/core/merkle"
)

// Request signing, version 1 (docs/format/wire.md).
//
// Every request to a farmer, reads included, carries these headers:
//
//	Shardrive-Account        account ID (base32), the signing ed25519 key
//	Shardrive-Farmer         node ID (base32) of the farmer it is meant for
//	Shardrive-Timestamp      signing time, decimal Unix milliseconds
//	Shardrive-Nonce          16 random bytes, 32 lowercase hex digits
//	Shardrive-Content-Blake3 BLAKE3-256 of the body (of "" when empty), hex
//	Shardrive-Signature      ed25519 signature, unpadded standard base64
//
// The signature covers the canonical string: these lines joined by "\n",
// with no trailing newline:
//
//	shardrive-request-v1
//	METHOD
//	escaped path (URL.EscapedPath)
//	canonical query
//	body hash (hex)
//	farmer ID
//	account ID
//	timestamp
//	nonce
//
// The canonical query is the query parsed as url.ParseQuery does, keys
// sorted, each key's values sorted, every key and value escaped with
// url.QueryEscape, pairs joined as k=v with "&". Every line but the path
// has a fixed alphabet without "\n", and a path containing a raw control
// character is refused, so the string splits one way only.
const (
	HeaderAccount   = "Shardrive-Account"
	HeaderFarmer    = "Shardrive-Farmer"
	HeaderTimestamp = "Shardrive-Timestamp"
	HeaderNonce     = "Shardrive-Nonce"
	HeaderBodyHash  = "Shardrive-Content-Blake3"
	HeaderSignature = "Shardrive-Signature"

	// HeaderTime is set by the farmer on every response: its clock, in
	// Unix milliseconds. A client whose request was refused as expired
	// signs its retry on the farmer's clock.
	HeaderTime = "Shardrive-Time"
	// HeaderNotBefore is set by the farmer on every response: the Unix
	// millisecond at or before which it refuses every timestamp (see
	// Verifier). A retry signs with a later timestamp.
	HeaderNotBefore = "Shardrive-Not-Before"
)

// signLabel versions the canonical string.
const signLabel = "shardrive-request-v1"

const nonceSize = 16

// BodyHash returns the hash of a request body as it is signed: BLAKE3-256.
// BLAKE3 because the farmer already runs it over every upload to compute
// the shard's Merkle root, at several GB/s per core.
func BodyHash(body []byte) [32]byte { return blake3.Sum256(body) }

// ShardBodyHash is the body hash of a shard upload (PUT /v1/shards/{root}):
// the shard's Merkle root itself, which binds every byte and the length.
// The farmer computes the root of every upload anyway, and the client knows
// it, so neither side hashes the body a second time.
func ShardBodyHash(root merkle.Root) [32]byte { return root }

// emptyBodyHash is BodyHash(nil), what every request without a body signs.
var emptyBodyHash = BodyHash(nil)

// EmptyBodyHash returns BodyHash of an empty body.
func EmptyBodyHash() [32]byte { return emptyBodyHash }

// Sign signs req for the farmer as the account whose key is key, at time
// now, with a fresh random nonce, setting the six signing headers. bodyHash
// is BodyHash of the exact body req will send. A request is good for one
// delivery: sign again for a retry.
func Sign(req *http.Request, bodyHash [32]byte, key ed25519.PrivateKey, farmer NodeID, now time.Time) error {
	if len(key) != ed25519.PrivateKeySize {
		return fmt.Errorf("sign request: account key of %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	account, err := AccountIDFromKey(key.Public().(ed25519.PublicKey))
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	var nonce [nonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic(fmt.Sprintf("format: read random nonce: %v", err))
	}
	h := signedHeaders{
		account:   account.String(),
		farmer:    farmer.String(),
		timestamp: strconv.FormatInt(now.UnixMilli(), 10),
		nonce:     hex.EncodeToString(nonce[:]),
		bodyHash:  hex.EncodeToString(bodyHash[:]),
	}
	msg, err := canonical(req.Method, req.URL, h)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	sig := ed25519.Sign(key, msg)
	req.Header.Set(HeaderAccount, h.account)
	req.Header.Set(HeaderFarmer, h.farmer)
	req.Header.Set(HeaderTimestamp, h.timestamp)
	req.Header.Set(HeaderNonce, h.nonce)
	req.Header.Set(HeaderBodyHash, h.bodyHash)
	req.Header.Set(HeaderSignature, base64.RawStdEncoding.EncodeToString(sig))
	return nil
}

// signedHeaders are the signing headers' values as sent.
type signedHeaders struct {
	account, farmer, timestamp, nonce, bodyHash string
}

// canonical builds the signed string. It fails on a method that is not an
// upper-case token, a path with control characters, or a query that does
// not parse.
func canonical(method string, u *url.URL, h signedHeaders) ([]byte, error) {
	if method == "" || len(method) > 16 || strings.Trim(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return nil, fmt.Errorf("%w: method %q is not an upper-case token", ErrBadRequest, method)
	}
	path := u.EscapedPath()
	if len(path) > maxPath {
		return nil, fmt.Errorf("%w: path of %d bytes, at most %d", ErrBadRequest, len(path), maxPath)
	}
	for i := 0; i < len(path); i++ {
		if path[i] < 0x20 || path[i] == 0x7f {
			return nil, fmt.Errorf("%w: control character in path", ErrBadRequest)
		}
	}
	query, err := canonicalQuery(u.RawQuery)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for i, s := range []string{signLabel, method, path, query, h.bodyHash, h.farmer, h.account, h.timestamp, h.nonce} {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	return []byte(b.String()), nil
}

// maxPath and maxQuery bound what canonical will process.
const (
	maxPath  = 1 << 10
	maxQuery = 1 << 10
)

func canonicalQuery(raw string) (string, error) {
	if len(raw) > maxQuery {
		return "", fmt.Errorf("%w: query of %d bytes, at most %d", ErrBadRequest, len(raw), maxQuery)
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("%w: query: %v", ErrBadRequest, err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := slices.Clone(vals[k])
		slices.Sort(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteByte('=')
			b.WriteString(url.QueryEscape(v))
		}
	}
	return b.String(), nil
}
