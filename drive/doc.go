// Package drive holds the file semantics every front shares (the CLI today,
// the FUSE mount and WebDAV later) over the local metadata in cache and the
// blocks the syncer stores and loads.
//
// A file is a sequence of BlockSize blocks; block i covers bytes
// [i*BlockSize, (i+1)*BlockSize) and only the last may be shorter. A block
// that is all zeros is not stored at all: it is a hole and reads as zeros,
// which keeps sparse files and zero-filled regions free.
//
// Whole-file writes (Put) are atomic: every block is stored first, then one
// metadata transaction swaps the new blocks in, so a crash or a failed upload
// leaves the previous content readable and the new shards journalled for
// garbage collection.
package drive
