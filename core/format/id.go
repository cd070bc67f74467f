package format

import (
	"crypto/ed25519"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// idEncoding spells node and account IDs: RFC 4648 base32 in lowercase,
// without padding. 32 bytes take 52 characters, the last of which carries
// four zero bits; only the canonical spelling parses, so an ID has exactly
// one spelling (IDs name directories and appear in addresses).
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// idLen is the length of an encoded ID.
var idLen = idEncoding.EncodedLen(ed25519.PublicKeySize)

// ErrBadID reports a node ID, account ID or address that does not parse.
var ErrBadID = errors.New("format: malformed id or address")

// NodeID names a farmer: its ed25519 public key. The client pins it in TLS
// and the farmer's signature verifier checks requests are addressed to it.
type NodeID [ed25519.PublicKeySize]byte

// NodeIDFromKey returns the NodeID of a farmer's public key.
func NodeIDFromKey(pub ed25519.PublicKey) (NodeID, error) {
	var id NodeID
	if len(pub) != len(id) {
		return NodeID{}, fmt.Errorf("%w: node key of %d bytes, want %d", ErrBadID, len(pub), len(id))
	}
	copy(id[:], pub)
	return id, nil
}

// PublicKey returns the ed25519 public key the ID is.
func (id NodeID) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(id[:]) }

// String returns the ID as 52 lowercase base32 characters.
func (id NodeID) String() string { return idEncoding.EncodeToString(id[:]) }

// IsZero reports whether id is the zero value, which is never a real ID.
func (id NodeID) IsZero() bool { return id == NodeID{} }

// MarshalText implements encoding.TextMarshaler.
func (id NodeID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *NodeID) UnmarshalText(b []byte) error {
	p, err := ParseNodeID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseNodeID parses the canonical spelling produced by NodeID.String.
func ParseNodeID(s string) (NodeID, error) {
	var id NodeID
	if err := parseID(id[:], s); err != nil {
		return NodeID{}, fmt.Errorf("parse node id: %w", err)
	}
	return id, nil
}

// AccountID names a client account on one farmer: the ed25519 public key
// that signs the account's requests. Clients derive a different account key
// per farmer, so farmers cannot link accounts by ID.
type AccountID [ed25519.PublicKeySize]byte

// AccountIDFromKey returns the AccountID of an account's public key.
func AccountIDFromKey(pub ed25519.PublicKey) (AccountID, error) {
	var id AccountID
	if len(pub) != len(id) {
		return AccountID{}, fmt.Errorf("%w: account key of %d bytes, want %d", ErrBadID, len(pub), len(id))
	}
	copy(id[:], pub)
	return id, nil
}

// PublicKey returns the ed25519 public key the ID is.
func (id AccountID) PublicKey() ed25519.PublicKey { return ed25519.PublicKey(id[:]) }

// String returns the ID as 52 lowercase base32 characters.
func (id AccountID) String() string { return idEncoding.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler.
func (id AccountID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *AccountID) UnmarshalText(b []byte) error {
	p, err := ParseAccountID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseAccountID parses the canonical spelling produced by AccountID.String.
func ParseAccountID(s string) (AccountID, error) {
	var id AccountID
	if err := parseID(id[:], s); err != nil {
		return AccountID{}, fmt.Errorf("parse account id: %w", err)
	}
	return id, nil
}

func parseID(dst []byte, s string) error {
	if len(s) != idLen {
		return fmt.Errorf("%w: want %d base32 characters, have %d", ErrBadID, idLen, len(s))
	}
	n, err := idEncoding.Decode(dst, []byte(s))
	if err != nil || n != len(dst) {
		return fmt.Errorf("%w: not lowercase base32", ErrBadID)
	}
	// The decoder ignores the unused low bits of the last character; a
	// second spelling of the same key must not parse.
	if idEncoding.EncodeToString(dst) != s {
		return fmt.Errorf("%w: not the canonical spelling", ErrBadID)
	}
	return nil
}

// maxHostLen bounds the host part of an address (a DNS name's limit).
const maxHostLen = 253

// Address is where and who a farmer is: its node ID and the host:port its
// HTTPS API listens on. Its text form is "nodeid@host:port".
type Address struct {
	ID   NodeID
	Host string // host:port; an IPv6 literal is in brackets
}

// String returns "nodeid@host:port".
func (a Address) String() string { return a.ID.String() + "@" + a.Host }

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	p, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// ParseAddress parses "nodeid@host:port". The host must be a DNS name or an
// IP literal (IPv6 in brackets), not empty and not a zone-scoped address;
// the port must be a decimal number in [1, 65535]. Errors wrap ErrBadID.
func ParseAddress(s string) (Address, error) {
	id, host, ok := strings.Cut(s, "@")
	if !ok {
		return Address{}, fmt.Errorf("parse address %q: %w: want nodeid@host:port", s, ErrBadID)
	}
	nid, err := ParseNodeID(id)
	if err != nil {
		return Address{}, fmt.Errorf("parse address %q: %w", s, err)
	}
	if err := CheckHostPort(host); err != nil {
		return Address{}, fmt.Errorf("parse address %q: %w", s, err)
	}
	return Address{ID: nid, Host: host}, nil
}

// CheckHostPort reports whether hp is a routable-looking host:port as
// ParseAddress accepts it. Errors wrap ErrBadID.
func CheckHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadID, err)
	}
	if err := checkPort(port); err != nil {
		return err
	}
	if host == "" {
		return fmt.Errorf("%w: empty host", ErrBadID)
	}
	if len(host) > maxHostLen {
		return fmt.Errorf("%w: host of %d characters, at most %d", ErrBadID, len(host), maxHostLen)
	}
	if strings.Contains(host, ":") {
		// An IPv6 literal: SplitHostPort removed the brackets; insist on
		// them being there and on a plain address without a zone.
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() || ip.Zone() != "" || !strings.HasPrefix(hp, "[") {
			return fmt.Errorf("%w: host %q is not a bracketed IPv6 address", ErrBadID, host)
		}
		return nil
	}
	if strings.HasPrefix(hp, "[") {
		return fmt.Errorf("%w: brackets around non-IPv6 host %q", ErrBadID, host)
	}
	return checkDNSName(host)
}

func checkPort(port string) error {
	if len(port) == 0 || len(port) > 5 || port[0] == '0' {
		return fmt.Errorf("%w: port %q is not a number in [1, 65535]", ErrBadID, port)
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: port %q is not a number in [1, 65535]", ErrBadID, port)
		}
	}
	if n, _ := strconv.Atoi(port); n > 65535 {
		return fmt.Errorf("%w: port %q is not a number in [1, 65535]", ErrBadID, port)
	}
	return nil
}

// checkDNSName accepts dot-separated labels of letters, digits, '-' and '_'
// (IPv4 literals are such names too), each 1-63 characters long, not
// starting or ending with '-'.
func checkDNSName(host string) error {
	for label := range strings.SplitSeq(host, ".") {
		if len(label) == 0 || len(label) > 63 {
			return fmt.Errorf("%w: host %q has an empty or over-long label", ErrBadID, host)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%w: host %q has a label starting or ending with '-'", ErrBadID, host)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("%w: host %q contains %q", ErrBadID, host, c)
			}
		}
	}
	return nil
}
