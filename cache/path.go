package cache

import (
	"fmt"
	"strings"
)

// maxDepth bounds the walk up to the root: a cycle in the directory tree
// (which Rename prevents) must not hang PathOf.
const maxDepth = 1 << 16

// PathOf returns a drive path of inode ino ("/" for the root), for people
// (shardrive status names the files it uploads). A file with several hard
// links gets one of its paths, the same each time while the links stay; an
// inode with no name left (deleted, perhaps still open) is ErrNotFound.
func (t *Tx) PathOf(ino int64) (string, error) {
	var names []string
	at := ino
	for at != RootIno {
		if len(names) == maxDepth {
			return "", fmt.Errorf("path of inode %d: more than %d levels: the directory tree loops", ino, maxDepth)
		}
		var parent int64
		var name string
		err := t.queryRow("SELECT parent, name FROM dentries WHERE ino = ? ORDER BY parent, name LIMIT 1", at).Scan(&parent, &name)
		if err != nil {
			return "", notFound(err, fmt.Sprintf("path of inode %d", ino))
		}
		names = append(names, name)
		at = parent
	}
	var b strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		b.WriteString("/")
		b.WriteString(names[i])
	}
	if b.Len() == 0 {
		return "/", nil
	}
	return b.String(), nil
}
