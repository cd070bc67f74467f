package cache

import (
	"fmt"
	"strings"
)

// Change types in meta_changes are meta.Type values (core/meta); the
// numbers are repeated here because a migration is frozen text.
//
// schemaV5 is built once from the table below; like every migration it must
// never change once released.
var schemaV5 = func() string {
	var b strings.Builder
	b.WriteString(`
CREATE TABLE meta_seq (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	seq INTEGER NOT NULL                -- the last change number handed out
);
INSERT INTO meta_seq(id, seq) VALUES (1, 0);

CREATE TABLE meta_changes (
	type INTEGER NOT NULL,              -- meta.Type of the row
	a    INTEGER NOT NULL,              -- first key field (0 if none)
	b    TEXT NOT NULL,                 -- second key field ('' if none; block index as decimal)
	seq  INTEGER NOT NULL,              -- change number of the last change
	PRIMARY KEY (type, a, b)
) WITHOUT ROWID;

ALTER TABLE garbage ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER garbage_seq AFTER INSERT ON garbage BEGIN
	UPDATE meta_seq SET seq = seq + 1;
	UPDATE garbage SET seq = (SELECT seq FROM meta_seq) WHERE id = NEW.id;
END;

CREATE TABLE backup_objects (
	seq     INTEGER PRIMARY KEY,        -- the object's number (meta.ObjectRef.Seq)
	kind    INTEGER NOT NULL,           -- meta.ObjectKind
	records INTEGER NOT NULL,
	bytes   INTEGER NOT NULL,           -- plaintext bytes
	body    BLOB,                       -- a segment's plaintext, kept to merge segments; NULL for a checkpoint
	parts   TEXT NOT NULL               -- JSON: [{version, plain_len, sealed_len, shard_len, shards: [{index, farmer (farmers.id), root (hex)}]}]
);
` + metaTriggers)
	return b.String()
}()

// metaTriggerTables are the tables whose rows the backup tracks; each has
// the triggers <table>_meta_ins, _meta_del and _meta_upd.
var metaTriggerTables = []string{"settings", "farmers", "inodes", "dentries", "blocks", "shards", "xattrs"}

// metaTriggers creates the change-tracking triggers (part of schema v5; a
// restore drops them while it replays a backup and creates them again).
var metaTriggers = func() string {
	var b strings.Builder
	// One trigger per table and statement. An UPDATE notes the old and the
	// new key (they differ when a dentry moves).
	for _, t := range []struct {
		table, when, typ, a, b string
		updateOf               string
	}{
		{"settings", "(%[1]s.key NOT LIKE 'local.%%' AND %[1]s.key != 'next_version')", "1", "0", "%s.key", ""},
		{"farmers", "", "2", "%s.id", "''", "OF node_id, address, state"},
		{"inodes", "", "3", "%s.ino", "''", "OF kind, mode, uid, gid, size, nlink, mtime, ctime, file_id, file_key, target, inline"},
		{"dentries", "", "4", "%s.parent", "%s.name", ""},
		{"blocks", "", "5", "%s.ino", "CAST(%s.idx AS TEXT)", ""},
		{"shards", "", "5", "%s.ino", "CAST(%s.idx AS TEXT)", ""},
		{"xattrs", "", "6", "%s.ino", "%s.name", ""},
	} {
		note := func(row string) string {
			f := func(s string) string {
				if strings.Contains(s, "%s") {
					return fmt.Sprintf(s, row)
				}
				return s
			}
			// DELETE then INSERT, not INSERT OR REPLACE: the statement
			// that fires a trigger overrides its conflict clauses.
			return fmt.Sprintf("\tDELETE FROM meta_changes WHERE type = %[1]s AND a = %[2]s AND b = %[3]s;\n"+
				"\tINSERT INTO meta_changes(type, a, b, seq) VALUES (%[1]s, %[2]s, %[3]s, (SELECT seq FROM meta_seq));\n",
				t.typ, f(t.a), f(t.b))
		}
		when := func(row string) string {
			if t.when == "" {
				return ""
			}
			return " WHEN " + fmt.Sprintf(t.when, row)
		}
		bump := "\tUPDATE meta_seq SET seq = seq + 1;\n"
		fmt.Fprintf(&b, "\nCREATE TRIGGER %s_meta_ins AFTER INSERT ON %s%s BEGIN\n%s%sEND;\n", t.table, t.table, when("NEW"), bump, note("NEW"))
		fmt.Fprintf(&b, "CREATE TRIGGER %s_meta_del AFTER DELETE ON %s%s BEGIN\n%s%sEND;\n", t.table, t.table, when("OLD"), bump, note("OLD"))
		upd := t.table
		if t.updateOf != "" {
			upd = t.updateOf + " ON " + t.table
		} else {
			upd = "ON " + t.table
		}
		updWhen := ""
		if t.when != "" {
			updWhen = " WHEN " + fmt.Sprintf(t.when, "NEW") + " OR " + fmt.Sprintf(t.when, "OLD")
		}
		fmt.Fprintf(&b, "CREATE TRIGGER %s_meta_upd AFTER UPDATE %s%s BEGIN\n%s%s%sEND;\n", t.table, upd, updWhen, bump, note("OLD"), note("NEW"))
	}
	return b.String()
}()
