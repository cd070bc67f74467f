package cache

import (
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/shardrive/shardrive/core/meta"
)

// The metadata backup's local side (schema v5): which rows changed since
// the last backup, every row for a checkpoint, the objects the newest root
// refers to, and replaying a backup into an empty database (recovery).
//
// Settings whose key starts with "local." describe this device, not the
// drive: they are never backed up. Neither is next_version, which every
// stored block (metadata objects included) moves: a recovery sets it past
// every version the backup names (SetNextVersionPast).

// Local settings of the backup.
const (
	settingBackupState = "local.backup"
	settingDevice      = "local.device"
)

// BackupState is what this device knows of the drive's metadata backup.
type BackupState struct {
	// Version of the newest root this device stored or accepted; a root
	// with a lower version is never accepted again.
	Version uint64
	// Covered is the change number the newest stored root covers: every
	// change up to it is on the farmers, and garbage queued up to it may
	// be deleted.
	Covered int64
	// ObjectSeq is the last object number used.
	ObjectSeq uint64
	// Time the newest root was stored.
	Time time.Time
	// LeaseUntil is when this device's writer lease ends unless renewed.
	LeaseUntil time.Time
	// Enabled: backups run for this drive, so garbage waits for them.
	Enabled bool
	// LostTo names the device that took the writer lease over, if one did:
	// this device must not write any more.
	LostTo string
}

// backupState on disk: JSON, versioned by its "v" field.
type backupStateJSON struct {
	V          int    `json:"v"`
	Version    uint64 `json:"version"`
	Covered    int64  `json:"covered"`
	ObjectSeq  uint64 `json:"object_seq"`
	Time       int64  `json:"time_ns"`
	LeaseUntil int64  `json:"lease_until_ns"`
	Enabled    bool   `json:"enabled"`
	LostTo     string `json:"lost_to,omitempty"`
}

// BackupState returns the backup state; a drive never backed up has the
// zero state.
func (t *Tx) BackupState() (BackupState, error) {
	v, err := t.setting(settingBackupState)
	if errors.Is(err, sql.ErrNoRows) {
		return BackupState{}, nil
	}
	if err != nil {
		return BackupState{}, err
	}
	var j backupStateJSON
	if err := json.Unmarshal(v, &j); err != nil {
		return BackupState{}, fmt.Errorf("backup state: %w", err)
	}
	if j.V != 1 {
		return BackupState{}, fmt.Errorf("backup state: want version 1, have %d", j.V)
	}
	s := BackupState{Version: j.Version, Covered: j.Covered, ObjectSeq: j.ObjectSeq, Enabled: j.Enabled, LostTo: j.LostTo}
	if j.Time != 0 {
		s.Time = time.Unix(0, j.Time)
	}
	if j.LeaseUntil != 0 {
		s.LeaseUntil = time.Unix(0, j.LeaseUntil)
	}
	return s, nil
}

// SetBackupState records s.
func (t *Tx) SetBackupState(s BackupState) error {
	j := backupStateJSON{V: 1, Version: s.Version, Covered: s.Covered, ObjectSeq: s.ObjectSeq, Enabled: s.Enabled, LostTo: s.LostTo}
	if !s.Time.IsZero() {
		j.Time = s.Time.UnixNano()
	}
	if !s.LeaseUntil.IsZero() {
		j.LeaseUntil = s.LeaseUntil.UnixNano()
	}
	b, err := json.Marshal(j)
	if err != nil {
		return err
	}
	return t.setSetting(settingBackupState, b)
}

// Device returns this home's device ID, making one on first use. It names
// the writer in root records; it is never backed up, so a recovered home is
// a new device.
func (t *Tx) Device(newID func() [16]byte) ([16]byte, error) {
	var id [16]byte
	v, err := t.setting(settingDevice)
	switch {
	case err == nil && len(v) == len(id):
		copy(id[:], v)
		return id, nil
	case err == nil:
		return id, fmt.Errorf("device id: %d bytes, want %d", len(v), len(id))
	case !errors.Is(err, sql.ErrNoRows):
		return id, err
	}
	id = newID()
	return id, t.setSetting(settingDevice, id[:])
}

// MetaSeq returns the last change number handed out.
func (t *Tx) MetaSeq() (int64, error) {
	var seq int64
	err := t.queryRow("SELECT seq FROM meta_seq").Scan(&seq)
	return seq, err
}

// MetaChanges returns a record for every row that changed since the last
// backup (its current value, or its deletion) and the change number they
// are current as of. Run it in one transaction with anything that must be
// consistent with it.
func (t *Tx) MetaChanges() (int64, []meta.Record, error) {
	seq, err := t.MetaSeq()
	if err != nil {
		return 0, nil, err
	}
	rows, err := t.query("SELECT type, a, b FROM meta_changes ORDER BY seq")
	if err != nil {
		return 0, nil, err
	}
	type key struct {
		typ meta.Type
		a   int64
		b   string
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.typ, &k.a, &k.b); err != nil {
			rows.Close()
			return 0, nil, err
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	recs := make([]meta.Record, 0, len(keys))
	for _, k := range keys {
		r, ok, err := t.metaRecord(k.typ, k.a, k.b)
		if err != nil {
			return 0, nil, err
		}
		if ok {
			recs = append(recs, r)
		}
	}
	return seq, recs, nil
}

// MetaCommitted forgets the changes up to seq, now stored in a root, and
// records that the root covers seq.
func (t *Tx) MetaCommitted(seq int64) error {
	_, err := t.exec("DELETE FROM meta_changes WHERE seq <= ?", seq)
	return err
}

// MetaUnchangedSince reports whether no backed-up row changed since the
// last backup: then the stored root still describes the metadata as of the
// current change number, and garbage queued since may go.
func (t *Tx) MetaUnchanged() (bool, int64, error) {
	var n int
	if err := t.queryRow("SELECT COUNT(*) FROM meta_changes").Scan(&n); err != nil {
		return false, 0, err
	}
	seq, err := t.MetaSeq()
	return n == 0, seq, err
}

// metaRecord reads the current row of one changed key: the row, or a
// deletion if it is gone. ok is false for keys that are not backed up.
func (t *Tx) metaRecord(typ meta.Type, a int64, b string) (meta.Record, bool, error) {
	rec := meta.Record{Type: typ}
	var err error
	switch typ {
	case meta.TypeSetting:
		s := &meta.Setting{Key: b}
		rec.Setting = s
		s.Value, err = t.setting(b)
	case meta.TypeFarmer:
		f := &meta.Farmer{ID: a}
		rec.Farmer = f
		err = t.queryRow("SELECT node_id, address, state FROM farmers WHERE id = ?", a).Scan(&f.NodeID, &f.Address, &f.State)
	case meta.TypeInode:
		var in *meta.Inode
		in, err = t.metaInode(t.queryRow("SELECT "+metaInodeCols+" FROM inodes WHERE ino = ?", a))
		if in == nil {
			in = &meta.Inode{Ino: a}
		}
		rec.Inode = in
	case meta.TypeDentry:
		d := &meta.Dentry{Parent: a, Name: b}
		rec.Dentry = d
		err = t.queryRow("SELECT ino FROM dentries WHERE parent = ? AND name = ?", a, b).Scan(&d.Ino)
	case meta.TypeBlock:
		idx, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil {
			return rec, false, fmt.Errorf("meta change: block index %q: %w", b, perr)
		}
		rec.Block = &meta.Block{Ino: a, Index: idx}
		var blk Block
		blk, err = t.Block(a, idx)
		if err == nil {
			rec.Block = metaBlock(blk)
		} else if errors.Is(err, ErrNotFound) {
			err = sql.ErrNoRows
		}
	case meta.TypeXattr:
		x := &meta.Xattr{Ino: a, Name: b}
		rec.Xattr = x
		err = t.queryRow("SELECT value FROM xattrs WHERE ino = ? AND name = ?", a, b).Scan(&x.Value)
	default:
		return rec, false, fmt.Errorf("meta change of unknown type %d", typ)
	}
	if errors.Is(err, sql.ErrNoRows) {
		rec.Deleted = true
		return rec, true, nil
	}
	return rec, err == nil, err
}

const metaInodeCols = "ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, file_id, file_key, target, inline, inline IS NOT NULL"

func (t *Tx) metaInode(s interface{ Scan(...any) error }) (*meta.Inode, error) {
	in := &meta.Inode{}
	var target sql.NullString
	if err := s.Scan(&in.Ino, &in.Kind, &in.Mode, &in.UID, &in.GID, &in.Size, &in.Nlink, &in.Atime, &in.Mtime, &in.Ctime,
		&in.FileID, &in.FileKey, &target, &in.Inline, &in.HasInline); err != nil {
		return nil, err
	}
	in.Target = target.String
	if in.HasInline && in.Inline == nil {
		in.Inline = []byte{}
	}
	return in, nil
}

func metaBlock(b Block) *meta.Block {
	mb := &meta.Block{Ino: b.Ino, Index: b.Index, Version: b.Version, PlainLen: int64(b.PlainLen), SealedLen: int64(b.SealedLen),
		ShardLen: int64(b.ShardLen), DataShards: b.DataShards, ParityShards: b.ParityShards, NeedsRepair: b.NeedsRepair}
	for _, s := range b.Shards {
		mb.Shards = append(mb.Shards, meta.Shard{Index: s.Index, Root: s.Root, Farmer: s.Farmer})
	}
	return mb
}

// MetaDump calls emit with every backed-up row, for a checkpoint, and
// returns the change number the dump is current as of.
func (t *Tx) MetaDump(emit func(meta.Record) error) (int64, error) {
	seq, err := t.MetaSeq()
	if err != nil {
		return 0, err
	}
	each := func(query string, scan func(*sql.Rows) (meta.Record, error)) error {
		rows, err := t.query(query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scan(rows)
			if err != nil {
				return err
			}
			if err := emit(r); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	steps := []struct {
		query string
		scan  func(*sql.Rows) (meta.Record, error)
	}{
		{"SELECT key, value FROM settings WHERE key NOT LIKE 'local.%' AND key != 'next_version' ORDER BY key", func(r *sql.Rows) (meta.Record, error) {
			s := &meta.Setting{}
			return meta.Record{Type: meta.TypeSetting, Setting: s}, r.Scan(&s.Key, &s.Value)
		}},
		{"SELECT id, node_id, address, state FROM farmers ORDER BY id", func(r *sql.Rows) (meta.Record, error) {
			f := &meta.Farmer{}
			return meta.Record{Type: meta.TypeFarmer, Farmer: f}, r.Scan(&f.ID, &f.NodeID, &f.Address, &f.State)
		}},
		{"SELECT " + metaInodeCols + " FROM inodes ORDER BY ino", func(r *sql.Rows) (meta.Record, error) {
			in, err := t.metaInode(r)
			return meta.Record{Type: meta.TypeInode, Inode: in}, err
		}},
		{"SELECT parent, name, ino FROM dentries ORDER BY parent, name", func(r *sql.Rows) (meta.Record, error) {
			d := &meta.Dentry{}
			return meta.Record{Type: meta.TypeDentry, Dentry: d}, r.Scan(&d.Parent, &d.Name, &d.Ino)
		}},
		{"SELECT ino, name, value FROM xattrs ORDER BY ino, name", func(r *sql.Rows) (meta.Record, error) {
			x := &meta.Xattr{}
			return meta.Record{Type: meta.TypeXattr, Xattr: x}, r.Scan(&x.Ino, &x.Name, &x.Value)
		}},
	}
	for _, s := range steps {
		if err := each(s.query, s.scan); err != nil {
			return 0, fmt.Errorf("dump metadata: %w", err)
		}
	}
	// Blocks with their shards, in one ordered pass over each table.
	if err := t.dumpBlocks(emit); err != nil {
		return 0, fmt.Errorf("dump metadata: %w", err)
	}
	return seq, nil
}

func (t *Tx) dumpBlocks(emit func(meta.Record) error) error {
	rows, err := t.query(`SELECT b.ino, b.idx, b.version, b.plain_len, b.sealed_len, b.shard_len, b.data_shards, b.parity_shards,
		b.needs_repair, s.shard, s.root, s.farmer
		FROM blocks b LEFT JOIN shards s ON s.ino = b.ino AND s.idx = b.idx ORDER BY b.ino, b.idx, s.shard`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var cur *meta.Block
	for rows.Next() {
		var b meta.Block
		var shard, farmer sql.NullInt64
		var root []byte
		if err := rows.Scan(&b.Ino, &b.Index, &b.Version, &b.PlainLen, &b.SealedLen, &b.ShardLen, &b.DataShards, &b.ParityShards,
			&b.NeedsRepair, &shard, &root, &farmer); err != nil {
			return err
		}
		if cur == nil || cur.Ino != b.Ino || cur.Index != b.Index {
			if cur != nil {
				if err := emit(meta.Record{Type: meta.TypeBlock, Block: cur}); err != nil {
					return err
				}
			}
			cur = &b
		}
		if shard.Valid {
			s := meta.Shard{Index: int(shard.Int64), Farmer: farmer.Int64}
			if len(root) != len(s.Root) {
				return fmt.Errorf("block %d/%d shard %d: root of %d bytes", b.Ino, b.Index, s.Index, len(root))
			}
			copy(s.Root[:], root)
			cur.Shards = append(cur.Shards, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if cur != nil {
		return emit(meta.Record{Type: meta.TypeBlock, Block: cur})
	}
	return nil
}

// BackupObject is an object the newest root refers to. Its parts' shards
// name farmers by farmers.id (in a root they are indexes into its farmer
// list).
type BackupObject struct {
	Seq     uint64
	Kind    meta.ObjectKind
	Records int64
	Bytes   int64
	Body    []byte // a segment's plaintext; nil for a checkpoint
	Parts   []meta.Part
}

type partJSON struct {
	Version   uint64      `json:"version"`
	PlainLen  int64       `json:"plain_len"`
	SealedLen int64       `json:"sealed_len"`
	ShardLen  int64       `json:"shard_len"`
	Shards    []shardJSON `json:"shards"`
}

type shardJSON struct {
	Index  int    `json:"index"`
	Farmer int64  `json:"farmer"`
	Root   string `json:"root"`
}

// BackupObjects lists the objects of the newest root, in order.
func (t *Tx) BackupObjects() ([]BackupObject, error) {
	rows, err := t.query("SELECT seq, kind, records, bytes, body, parts FROM backup_objects ORDER BY seq")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BackupObject
	for rows.Next() {
		var o BackupObject
		var parts string
		if err := rows.Scan(&o.Seq, &o.Kind, &o.Records, &o.Bytes, &o.Body, &parts); err != nil {
			return nil, err
		}
		var pj []partJSON
		if err := json.Unmarshal([]byte(parts), &pj); err != nil {
			return nil, fmt.Errorf("backup object %d: parts: %w", o.Seq, err)
		}
		for _, p := range pj {
			mp := meta.Part{Version: p.Version, PlainLen: p.PlainLen, SealedLen: p.SealedLen, ShardLen: p.ShardLen}
			for _, s := range p.Shards {
				ps := meta.PartShard{Index: s.Index, Farmer: int(s.Farmer)}
				r, err := hex.DecodeString(s.Root)
				if err != nil || len(r) != len(ps.Root) {
					return nil, fmt.Errorf("backup object %d: bad shard root %q", o.Seq, s.Root)
				}
				copy(ps.Root[:], r)
				mp.Shards = append(mp.Shards, ps)
			}
			o.Parts = append(o.Parts, mp)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// AddBackupObject records an object stored on the farmers.
func (t *Tx) AddBackupObject(o BackupObject) error {
	pj := make([]partJSON, 0, len(o.Parts))
	for _, p := range o.Parts {
		j := partJSON{Version: p.Version, PlainLen: p.PlainLen, SealedLen: p.SealedLen, ShardLen: p.ShardLen}
		for _, s := range p.Shards {
			j.Shards = append(j.Shards, shardJSON{Index: s.Index, Farmer: int64(s.Farmer), Root: hex.EncodeToString(s.Root[:])})
		}
		pj = append(pj, j)
	}
	parts, err := json.Marshal(pj)
	if err != nil {
		return err
	}
	_, err = t.exec("INSERT INTO backup_objects(seq, kind, records, bytes, body, parts) VALUES(?, ?, ?, ?, ?, ?)",
		o.Seq, o.Kind, o.Records, o.Bytes, o.Body, string(parts))
	return err
}

// DropBackupObjects forgets objects no root refers to any more and queues
// their shards for deletion (after the next root, as all garbage).
func (t *Tx) DropBackupObjects(objs []BackupObject) error {
	for _, o := range objs {
		for _, p := range o.Parts {
			for _, s := range p.Shards {
				if _, err := t.exec("INSERT INTO garbage(farmer, root, added) VALUES(?, ?, ?)", s.Farmer, s.Root[:], time.Now().UnixNano()); err != nil {
					return fmt.Errorf("queue backup object %d: %w", o.Seq, err)
				}
			}
		}
		if _, err := t.exec("DELETE FROM backup_objects WHERE seq = ?", o.Seq); err != nil {
			return err
		}
	}
	return nil
}

// ApplyMeta replays records into the metadata: a row is written whole or
// deleted. Foreign keys are checked when the transaction commits, so the
// records may come in any order; ApplyMeta is for recovery, into a
// database that holds nothing else.
func (t *Tx) ApplyMeta(recs []meta.Record) error {
	if _, err := t.exec("PRAGMA defer_foreign_keys = ON"); err != nil {
		return err
	}
	// Nothing replayed is a change to back up: the change-tracking
	// triggers would only slow the replay down (FinishRestore puts them
	// back, in the same transaction).
	for _, table := range metaTriggerTables {
		for _, op := range []string{"ins", "del", "upd"} {
			if _, err := t.exec(fmt.Sprintf("DROP TRIGGER IF EXISTS %s_meta_%s", table, op)); err != nil {
				return err
			}
		}
	}
	for i := range recs {
		if err := t.applyMeta(&recs[i]); err != nil {
			k := recs[i].Key()
			return fmt.Errorf("apply %v %d/%q: %w", k.Type, k.A, k.B, err)
		}
	}
	return nil
}

func (t *Tx) applyMeta(r *meta.Record) error {
	var err error
	switch r.Type {
	case meta.TypeSetting:
		s := r.Setting
		if len(s.Key) >= 6 && s.Key[:6] == "local." {
			return errors.New("a local setting in a backup")
		}
		if r.Deleted {
			_, err = t.exec("DELETE FROM settings WHERE key = ?", s.Key)
		} else {
			err = t.setSetting(s.Key, s.Value)
		}
	case meta.TypeFarmer:
		f := r.Farmer
		if r.Deleted {
			_, err = t.exec("DELETE FROM farmers WHERE id = ?", f.ID)
		} else {
			_, err = t.exec(`INSERT INTO farmers(id, node_id, address, state, added) VALUES(?, ?, ?, ?, ?)
				ON CONFLICT(id) DO UPDATE SET node_id = excluded.node_id, address = excluded.address, state = excluded.state`,
				f.ID, f.NodeID, f.Address, f.State, time.Now().UnixNano())
		}
	case meta.TypeInode:
		in := r.Inode
		if r.Deleted {
			_, err = t.exec("DELETE FROM inodes WHERE ino = ?", in.Ino)
			break
		}
		var target, inline any
		if Kind(in.Kind) == KindSymlink {
			target = in.Target
		}
		if in.HasInline {
			inline = in.Inline
			if in.Inline == nil {
				inline = []byte{}
			}
		}
		_, err = t.exec(`INSERT INTO inodes(ino, kind, mode, uid, gid, size, nlink, atime, mtime, ctime, file_id, file_key, target, inline)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(ino) DO UPDATE SET kind = excluded.kind, mode = excluded.mode, uid = excluded.uid, gid = excluded.gid,
				size = excluded.size, nlink = excluded.nlink, atime = excluded.atime, mtime = excluded.mtime, ctime = excluded.ctime,
				file_id = excluded.file_id, file_key = excluded.file_key, target = excluded.target, inline = excluded.inline`,
			in.Ino, in.Kind, in.Mode, in.UID, in.GID, in.Size, in.Nlink, in.Atime, in.Mtime, in.Ctime,
			nilIfEmpty(in.FileID), nilIfEmpty(in.FileKey), target, inline)
	case meta.TypeDentry:
		d := r.Dentry
		if err := ValidName(d.Name); err != nil {
			return err
		}
		if r.Deleted {
			_, err = t.exec("DELETE FROM dentries WHERE parent = ? AND name = ?", d.Parent, d.Name)
		} else {
			_, err = t.exec(`INSERT INTO dentries(parent, name, ino) VALUES(?, ?, ?)
				ON CONFLICT(parent, name) DO UPDATE SET ino = excluded.ino`, d.Parent, d.Name, d.Ino)
		}
	case meta.TypeBlock:
		b := r.Block
		if r.Deleted {
			_, err = t.exec("DELETE FROM blocks WHERE ino = ? AND idx = ?", b.Ino, b.Index)
			break
		}
		if _, err = t.exec(`INSERT INTO blocks(ino, idx, version, plain_len, sealed_len, shard_len, data_shards, parity_shards, needs_repair)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT(ino, idx) DO UPDATE SET version = excluded.version, plain_len = excluded.plain_len,
				sealed_len = excluded.sealed_len, shard_len = excluded.shard_len, data_shards = excluded.data_shards,
				parity_shards = excluded.parity_shards, needs_repair = excluded.needs_repair`,
			b.Ino, b.Index, b.Version, b.PlainLen, b.SealedLen, b.ShardLen, b.DataShards, b.ParityShards, b.NeedsRepair); err != nil {
			break
		}
		if _, err = t.exec("DELETE FROM shards WHERE ino = ? AND idx = ?", b.Ino, b.Index); err != nil {
			break
		}
		for _, s := range b.Shards {
			if _, err = t.exec("INSERT INTO shards(ino, idx, shard, root, farmer) VALUES(?, ?, ?, ?, ?)",
				b.Ino, b.Index, s.Index, s.Root[:], s.Farmer); err != nil {
				break
			}
		}
	case meta.TypeXattr:
		x := r.Xattr
		if r.Deleted {
			_, err = t.exec("DELETE FROM xattrs WHERE ino = ? AND name = ?", x.Ino, x.Name)
		} else {
			_, err = t.exec(`INSERT INTO xattrs(ino, name, value) VALUES(?, ?, ?)
				ON CONFLICT(ino, name) DO UPDATE SET value = excluded.value`, x.Ino, x.Name, x.Value)
		}
	default:
		return fmt.Errorf("unknown record type %d", r.Type)
	}
	return err
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ErrInconsistent reports restored metadata that does not form a file
// tree: a backup that was tampered with or is damaged.
var ErrInconsistent = errors.New("restored metadata is inconsistent")

// FinishRestore checks that restored metadata forms a tree whose link
// counts add up, queues files without links (unlinked while open when the
// backup was made) for dropping, maps owners to uid/gid unless keepOwners,
// and marks everything as backed up as of now (recovered from covered).
func (t *Tx) FinishRestore(uid, gid uint32, keepOwners bool) error {
	checks := []struct{ what, query string }{
		{"the root directory is missing", fmt.Sprintf("SELECT COUNT(*) = 0 FROM inodes WHERE ino = %d AND kind = %d", RootIno, KindDir)},
		{"an entry is in something that is not a directory", fmt.Sprintf(
			"SELECT COUNT(*) FROM dentries d JOIN inodes p ON p.ino = d.parent WHERE p.kind != %d", KindDir)},
		{"an entry names the root directory", fmt.Sprintf("SELECT COUNT(*) FROM dentries WHERE ino = %d", RootIno)},
		{"a directory has other than one name", fmt.Sprintf(
			"SELECT COUNT(*) FROM inodes i WHERE i.kind = %d AND i.ino != %d AND (SELECT COUNT(*) FROM dentries WHERE ino = i.ino) != 1", KindDir, RootIno)},
		{"a link count does not match the entries", fmt.Sprintf(
			"SELECT COUNT(*) FROM inodes i WHERE i.kind != %d AND i.nlink != (SELECT COUNT(*) FROM dentries WHERE ino = i.ino)", KindDir)},
		{"a block belongs to something that is not a file", fmt.Sprintf(
			"SELECT COUNT(*) FROM blocks b JOIN inodes i ON i.ino = b.ino WHERE i.kind != %d", KindFile)},
		{"a file with blocks has no key", fmt.Sprintf(
			"SELECT COUNT(*) FROM inodes i WHERE kind = %d AND (file_id IS NULL OR file_key IS NULL) AND EXISTS (SELECT 1 FROM blocks WHERE ino = i.ino)", KindFile)},
		{"an inode has an unknown kind", fmt.Sprintf("SELECT COUNT(*) FROM inodes WHERE kind NOT BETWEEN %d AND %d", KindFile, KindSocket)},
	}
	for _, c := range checks {
		var bad int
		if err := t.queryRow(c.query).Scan(&bad); err != nil {
			return err
		}
		if bad != 0 {
			return fmt.Errorf("%w: %s", ErrInconsistent, c.what)
		}
	}
	// Files whose last name went while open: nothing has them open here.
	if _, err := t.exec(fmt.Sprintf("INSERT OR IGNORE INTO orphans(ino) SELECT ino FROM inodes WHERE kind != %d AND nlink = 0", KindDir)); err != nil {
		return err
	}
	if !keepOwners {
		if _, err := t.exec("UPDATE inodes SET uid = ?, gid = ?", uid, gid); err != nil {
			return err
		}
	}
	if _, err := t.exec("DELETE FROM meta_changes"); err != nil {
		return err
	}
	// Put back the change tracking ApplyMeta dropped (all of it, whether
	// or not it ran).
	for _, table := range metaTriggerTables {
		for _, op := range []string{"ins", "del", "upd"} {
			if _, err := t.exec(fmt.Sprintf("DROP TRIGGER IF EXISTS %s_meta_%s", table, op)); err != nil {
				return err
			}
		}
	}
	if _, err := t.tx.ExecContext(t.ctx, metaTriggers); err != nil {
		return fmt.Errorf("restore the change triggers: %w", err)
	}
	return nil
}

// SetNextVersionPast sets the block version counter past every version
// the restored blocks use and past floor: a recovered drive never hands out
// a version its blocks (or the metadata objects, whose versions the caller
// passes as floor) already have. The caller adds a margin for what the
// previous device may have used without backing it up.
func (t *Tx) SetNextVersionPast(floor uint64) error {
	var max sql.NullInt64
	if err := t.queryRow("SELECT MAX(version) FROM blocks").Scan(&max); err != nil {
		return err
	}
	next := floor + 1
	if max.Valid && uint64(max.Int64) >= next {
		next = uint64(max.Int64) + 1
	}
	return t.setSetting("next_version", binary.BigEndian.AppendUint64(nil, next))
}

// Census counts the drive's files, directories (the root included) and
// symlinks, and the files' bytes.
func (t *Tx) Census() (files, dirs, symlinks int, bytes int64, err error) {
	err = t.queryRow(fmt.Sprintf(`SELECT
		COUNT(*) FILTER (WHERE kind = %d), COUNT(*) FILTER (WHERE kind = %d), COUNT(*) FILTER (WHERE kind = %d),
		COALESCE(SUM(size) FILTER (WHERE kind = %d), 0) FROM inodes WHERE nlink > 0`, KindFile, KindDir, KindSymlink, KindFile)).
		Scan(&files, &dirs, &symlinks, &bytes)
	return
}
