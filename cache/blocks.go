package cache

import (
	"fmt"
	"time"
)

// Block is one committed block of a file and where its shards live.
type Block struct {
	Ino          int64
	Index        int64
	Version      uint64
	PlainLen     int // plaintext bytes (the last block of a file is shorter)
	SealedLen    int // bytes of the sealed block that was erasure-coded
	ShardLen     int
	DataShards   int
	ParityShards int
	NeedsRepair  bool // fewer than DataShards+ParityShards shards placed
	Shards       []Shard
}

// Shard is one placed shard of a block.
type Shard struct {
	Index  int
	Root   [32]byte
	Farmer int64  // farmers.id
	NodeID string // the farmer's node ID, filled in on read
}

// Blocks returns the committed blocks of inode ino with their shards, in
// block order.
func (t *Tx) Blocks(ino int64) ([]Block, error) {
	rows, err := t.query(`SELECT idx, version, plain_len, sealed_len, shard_len, data_shards, parity_shards, needs_repair
		FROM blocks WHERE ino = ? ORDER BY idx`, ino)
	if err != nil {
		return nil, err
	}
	var out []Block
	for rows.Next() {
		b := Block{Ino: ino}
		if err := rows.Scan(&b.Index, &b.Version, &b.PlainLen, &b.SealedLen, &b.ShardLen,
			&b.DataShards, &b.ParityShards, &b.NeedsRepair); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	srows, err := t.query(`SELECT s.idx, s.shard, s.root, s.farmer, f.node_id
		FROM shards s JOIN farmers f ON f.id = s.farmer WHERE s.ino = ? ORDER BY s.idx, s.shard`, ino)
	if err != nil {
		return nil, err
	}
	defer srows.Close()
	at := make(map[int64]int, len(out))
	for i, b := range out {
		at[b.Index] = i
	}
	for srows.Next() {
		var idx int64
		var s Shard
		var root []byte
		if err := srows.Scan(&idx, &s.Index, &root, &s.Farmer, &s.NodeID); err != nil {
			return nil, err
		}
		if len(root) != len(s.Root) {
			return nil, fmt.Errorf("inode %d block %d shard %d: root is %d bytes, want %d", ino, idx, s.Index, len(root), len(s.Root))
		}
		copy(s.Root[:], root)
		if i, ok := at[idx]; ok {
			out[i].Shards = append(out[i].Shards, s)
		}
	}
	return out, srows.Err()
}

// PutBlock commits b as the current version of its block, replacing any
// earlier one; the shards of the replaced version become garbage.
func (t *Tx) PutBlock(b Block) error {
	if err := t.dropBlocks("ino = ? AND idx = ?", b.Ino, b.Index); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO blocks(ino, idx, version, plain_len, sealed_len, shard_len, data_shards, parity_shards, needs_repair)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.Ino, b.Index, b.Version, b.PlainLen, b.SealedLen, b.ShardLen,
		b.DataShards, b.ParityShards, b.NeedsRepair)
	if err != nil {
		return fmt.Errorf("put block %d of inode %d: %w", b.Index, b.Ino, err)
	}
	for _, s := range b.Shards {
		if _, err := t.exec("INSERT INTO shards(ino, idx, shard, root, farmer) VALUES(?, ?, ?, ?, ?)",
			b.Ino, b.Index, s.Index, s.Root[:], s.Farmer); err != nil {
			return fmt.Errorf("put block %d of inode %d: shard %d: %w", b.Index, b.Ino, s.Index, err)
		}
	}
	return nil
}

// TruncateBlocks drops the blocks of ino from index from on; their shards
// become garbage.
func (t *Tx) TruncateBlocks(ino, from int64) error {
	return t.dropBlocks("ino = ? AND idx >= ?", ino, from)
}

func (t *Tx) dropBlocks(where string, args ...any) error {
	now := time.Now().UnixNano()
	if _, err := t.exec("INSERT INTO garbage(farmer, root, added) SELECT farmer, root, ? FROM shards WHERE "+where,
		append([]any{now}, args...)...); err != nil {
		return fmt.Errorf("queue garbage: %w", err)
	}
	if _, err := t.exec("DELETE FROM blocks WHERE "+where, args...); err != nil {
		return fmt.Errorf("drop blocks: %w", err)
	}
	return nil
}

// Block returns the committed block idx of ino, or ErrNotFound for a hole.
func (t *Tx) Block(ino, idx int64) (Block, error) {
	b := Block{Ino: ino, Index: idx}
	err := t.queryRow(`SELECT version, plain_len, sealed_len, shard_len, data_shards, parity_shards, needs_repair
		FROM blocks WHERE ino = ? AND idx = ?`, ino, idx).Scan(&b.Version, &b.PlainLen, &b.SealedLen, &b.ShardLen,
		&b.DataShards, &b.ParityShards, &b.NeedsRepair)
	if err != nil {
		return b, notFound(err, fmt.Sprintf("block %d of inode %d", idx, ino))
	}
	rows, err := t.query(`SELECT s.shard, s.root, s.farmer, f.node_id FROM shards s JOIN farmers f ON f.id = s.farmer
		WHERE s.ino = ? AND s.idx = ? ORDER BY s.shard`, ino, idx)
	if err != nil {
		return b, err
	}
	defer rows.Close()
	for rows.Next() {
		var s Shard
		var root []byte
		if err := rows.Scan(&s.Index, &root, &s.Farmer, &s.NodeID); err != nil {
			return b, err
		}
		if len(root) != len(s.Root) {
			return b, fmt.Errorf("inode %d block %d shard %d: root is %d bytes, want %d", ino, idx, s.Index, len(root), len(s.Root))
		}
		copy(s.Root[:], root)
		b.Shards = append(b.Shards, s)
	}
	return b, rows.Err()
}
