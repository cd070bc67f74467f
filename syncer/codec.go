package syncer

import (
	"fmt"
	"sync"

	"github.com/shardrive/shardrive/core/crypto"
	"github.com/shardrive/shardrive/core/erasure"
	"github.com/shardrive/shardrive/core/merkle"
)

// encoded is a sealed, erasure-coded block ready to place. Its shards share
// one pooled buffer: call release once they are no longer needed.
type encoded struct {
	sealedLen int
	shards    [][]byte
	roots     []merkle.Root
	buf       *[]byte
	pool      *sync.Pool
}

func (e *encoded) release() {
	if e.buf != nil {
		e.pool.Put(e.buf)
		e.buf, e.shards = nil, nil
	}
}

// codec turns plaintext blocks into shards and back for one drive's k and m.
type codec struct {
	coder *erasure.Coder
	// bufs holds *[]byte shard buffers: reusing them spares the page faults
	// and clearing of fresh memory, which cost as much as the crypto.
	bufs sync.Pool
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
//
// The block is sealed straight into the buffer the data shards are cut from,
// so Reed-Solomon finds its data shards in place and nothing is copied.
func (c *codec) encode(s *crypto.Sealer, ad crypto.BlockAD, plain []byte) (encoded, error) {
	sealedLen := crypto.SealedSize(len(plain))
	size := c.coder.ShardSize(sealedLen)
	total := c.coder.Total()
	buf, _ := c.bufs.Get().(*[]byte)
	if buf == nil || cap(*buf) < total*size {
		b := make([]byte, total*size)
		buf = &b
	}
	*buf = (*buf)[:total*size]
	shards := make([][]byte, total)
	for i := range shards {
		shards[i] = (*buf)[i*size : (i+1)*size : (i+1)*size]
	}
	sealed := s.SealBlock((*buf)[:0:sealedLen], ad, plain)
	if err := c.coder.EncodeTo(shards, sealed); err != nil {
		c.bufs.Put(buf)
		return encoded{}, fmt.Errorf("erasure-code block: %w", err)
	}
	roots := make([]merkle.Root, len(shards))
	for i, sh := range shards {
		roots[i] = merkle.RootOf(sh)
	}
	return encoded{sealedLen: len(sealed), shards: shards, roots: roots, buf: buf, pool: &c.bufs}, nil
}

// decode rebuilds the sealed block from verified shards (nil where missing)
// and opens it, appending exactly plainLen bytes of plaintext to dst[:0]
// (pass a buffer of OpenedSize(plainLen) capacity to decode without
// allocating).
func (c *codec) decode(dst []byte, s *crypto.Sealer, ad crypto.BlockAD, shards [][]byte, sealedLen, plainLen int) ([]byte, error) {
	if want := crypto.SealedSize(plainLen); sealedLen != want {
		return nil, fmt.Errorf("%w: block records %d sealed bytes for %d plaintext bytes, want %d",
			ErrDamaged, sealedLen, plainLen, want)
	}
	buf, _ := c.bufs.Get().(*[]byte)
	if buf == nil || cap(*buf) < sealedLen {
		b := make([]byte, sealedLen)
		buf = &b
	}
	defer c.bufs.Put(buf)
	sealed := (*buf)[:sealedLen]
	if err := c.coder.DecodeTo(sealed, shards); err != nil {
		return nil, fmt.Errorf("%w: erasure decode: %w", ErrDamaged, err)
	}
	plain, err := s.OpenBlock(dst[:0], ad, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDamaged, err)
	}
	return plain[:plainLen], nil
}
