package syncer

import (
	"fmt"

	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/erasure"
	"github.com/shardrive/shardrive/core/merkle"
)

// encoded is a sealed, erasure-coded block ready to place.
type encoded struct {
	sealedLen int
	shards    [][]byte
	roots     []merkle.Root
}

// codec turns plaintext blocks into shards and back for one drive's k and m.
type codec struct {
	coder *erasure.Coder
}

func newCodec(k, m int) (*codec, error) {
	c, err := erasure.New(k, m)
	if err != nil {
		return nil, err
	}
	return &codec{coder: c}, nil
}

// encode seals plain under s and ad, splits it into k+m shards and hashes
// each into its Merkle root (merkle.Build spreads a shard's leaves over the
// cores, so shards are hashed one after another).
func (c *codec) encode(s *crypto.Sealer, ad crypto.BlockAD, plain []byte) (encoded, error) {
	sealed := s.SealBlock(make([]byte, 0, crypto.SealedSize(len(plain))), ad, plain)
	shards, err := c.coder.Encode(sealed)
	if err != nil {
		return encoded{}, fmt.Errorf("erasure-code block: %w", err)
	}
	roots := make([]merkle.Root, len(shards))
	for i, sh := range shards {
		roots[i] = merkle.RootOf(sh)
	}
	return encoded{sealedLen: len(sealed), shards: shards, roots: roots}, nil
}

// decode rebuilds the sealed block from verified shards (nil where missing)
// and opens it, returning exactly plainLen bytes of plaintext.
func (c *codec) decode(s *crypto.Sealer, ad crypto.BlockAD, shards [][]byte, sealedLen, plainLen int) ([]byte, error) {
	if want := crypto.SealedSize(plainLen); sealedLen != want {
		return nil, fmt.Errorf("%w: block records %d sealed bytes for %d plaintext bytes, want %d",
			ErrDamaged, sealedLen, plainLen, want)
	}
	sealed, err := c.coder.Decode(shards, sealedLen)
	if err != nil {
		return nil, fmt.Errorf("%w: erasure decode: %w", ErrDamaged, err)
	}
	plain, err := s.OpenBlock(make([]byte, 0, crypto.OpenedSize(plainLen)), ad, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return plain[:plainLen], nil
}
