// Package drive holds the file semantics every front shares (the CLI today,
// the FUSE mount and WebDAV later) over the local metadata in cache and the
// blocks the syncer stores and loads.
//
// A file is a sequence of BlockSize blocks; block i covers bytes
// [i*BlockSize, (i+1)*BlockSize) and only the last may be shorter. A block
// that is all zeros is not stored at all: it is a hole and reads as zeros,
// which keeps sparse files and zero-filled regions free.
//
// Small files (at most Config.InlineMax bytes, and within one block) live
// whole in the metadata (the inode's inline content) rather than in blocks
// on the farmers. While one is written it stays in memory (node.mem): no
// local data file is made, no block is marked dirty, and the flush (close,
// fsync) commits size, times and content in one transaction, which is the
// file's durability point as the data file's fsync is a large file's. A
// write past the limit first moves the content into the local cache as
// one write; a truncate inside it commits at once. Writes never flushed
// are lost with the process, as the kernel's would be with the machine.
// The content is always read from the metadata (or that memory), never
// from a copy taken at open: the uploader may move a small file's content
// into the inode while it is open.
//
// Whole-file writes (Put) are atomic: every block is stored first, then one
// metadata transaction swaps the new blocks in, so a crash or a failed upload
// leaves the previous content readable and the new shards journalled for
// garbage collection.
//
// # The local cache limit
//
// Config.CacheMaxSize bounds the local cache, and writes keep it: the cache
// never holds more than the limit because of a write. The drive counts the
// blocks the cached table lists, each as a whole block, clean or dirty
// (cacheRoom): seeded from the metadata at New, then moved by every change
// the drive commits (a write or fetch adds, eviction, truncate, unlink,
// Put and clear take away). The uploader turns blocks clean but never adds
// or drops one, so the count needs nothing from it; how many are dirty is
// read from the metadata only when the cache is full.
//
// A write first counts the blocks of its range the cache lacks (fetched
// ones for a partial block included) and reserves that room; overwriting
// cached blocks needs none and never waits. If the room is not there, the
// writer lets its file's lock go (eviction takes file locks, its own file's
// among them, and the uploader must lock the file to snapshot it) and
// makes room (makeRoom):
//
//  1. Clean, unpinned blocks go, least recently used first: by the time
//     they were fetched, written, uploaded or read. Blocks of open files
//     go too (a file being written is open all along, and its uploaded
//     blocks must make way); a reader holds the file's lock while it
//     copies a block, so nothing is evicted under it.
//  2. If only dirty (or pinned) blocks are left, the writer flushes the
//     open files (the uploader leaves unflushed files alone), urges the
//     uploader to start a round without the quiet period
//     (syncer.Uploader.Urge) and waits until blocks turn clean, then
//     evicts them: writers wait for uploads instead of failing.
//  3. It fails with ErrNoSpace (ENOSPC at the mount) only when waiting
//     cannot help: an upload round ends with syncer.ErrUnavailable (too
//     few farmers answer) having cleaned nothing, no block is cleaned for
//     Config.UploadStall (a minute by default: long enough for a slow
//     upload of a block, short enough that an application is told), no
//     uploader runs (SetUploads), or the cache is full of pinned blocks.
//     The request's context ends the wait too.
//
// Dirty blocks are never evicted, and pinned ones stay whatever the limit.
// Reads are never refused for the limit: a fetch evicts what it can first,
// and what it cannot waits for the next eviction. A write spanning more
// blocks than the limit goes one block at a time, which is why the limit
// is at least two blocks (a piece may straddle two).
//
// Lock order: Drive.mu, then a file's lock, then Drive.changes (read), then
// a metadata write transaction, then cacheRoom.mu, which is a leaf. Eviction and waiting
// for room run with no lock held.
//
// # Read-only
//
// A drive has one writing device at a time. When this one loses the
// writer lease to another, the daemon calls SetReadOnly with the reason,
// and from then on every change fails, before it changes anything, with
// an error wrapping ErrReadOnly and the reason (EROFS at the mount): a
// name made, linked, renamed or removed, an open for writing or with
// O_TRUNC or O_APPEND, a write through a handle opened before, any
// SetAttr, an xattr set or removed, Put, MkdirPath and Remove. What only
// reads, and what only concerns this device's local cache (pins, clearing
// and eviction, fetching blocks), goes on: the files stay readable.
//
// Flush, Fsync and Release go on too, and commit what was written before
// the switch: those bytes are in the local cache already, and refusing to
// commit them would lose them for nothing (whether they are uploaded is
// the daemon's business). A file unlinked while open is still deleted at
// its last close.
//
// The switch is an atomic pointer, so that checking it costs nothing.
// Each change checks it where nothing can overtake the check: with its
// metadata write transaction, under Drive.changes held for reading
// (Drive.change), and under the file's lock for the bytes of a write or a
// truncate. SetReadOnly then takes Drive.changes for writing and each
// open file's lock once: when it returns, no change begun before is still
// in flight, and the drive stays as the daemon finds it. (A barrier made
// of one more SQLite transaction would be simpler, but SQLite's busy wait
// is not fair and can time out under load.)
package drive
