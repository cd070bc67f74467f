// Package mount shows a drive as a folder through FUSE (bazil.org/fuse).
//
// It is a translation layer and nothing more: each FUSE request becomes one
// or two calls of the drive's file-system API (package drive), and each
// drive error becomes an errno, in one table (errors.go). What a file is,
// how it is stored, when it is uploaded, what a rename or an unlink of an
// open file means: all of that is the drive's, shared with every other
// front. This package never touches SQLite, the cache files or the network.
//
// # Terms
//
//   - node: what the kernel knows by a node ID: a dir, file, symlink or
//     special (FIFO, socket) value holding the drive inode number.
//   - handle: an open file description (open(2) to its last close), holding
//     the drive's *drive.Handle.
//   - write-back cache: the kernel keeps written pages and sends them later,
//     in large pieces, and keeps size and times itself meanwhile.
//
// # Nodes and inode numbers
//
// The inode numbers the kernel shows (st_ino, d_ino) are the drive's, so they
// are stable across mounts and the same for every hard link of a file. A
// node is a comparable value, dir{node{fsys, ino}}, not a pointer: bazil keys
// its table of kernel node IDs by the Node interface value, so every lookup
// of one inode, under any name, lands on the same kernel node without a
// cache of ours that would have to follow the kernel's FORGETs. (Nothing is
// done on Forget for the same reason.)
//
// After a request that returns a node (lookup, create, mkdir, mknod,
// symlink, link) or changes one (setattr), bazil asks the node for its
// attributes to answer the kernel; the drive has just returned them, so the
// request's context carries them over (fs.Config.WithContext) instead of a
// second query.
//
// # Permissions and owners
//
// The mount always uses default_permissions: the kernel checks mode bits and
// owners on every access, with the caller's credentials, exactly as on a
// local disk (chown by root only, setuid and setgid cleared where a local
// disk clears them, and so on), but for the sticky bit, which the drive
// checks (see "What bazil does not do"). Other users reach
// the mount only with Options.AllowOther, which a non-root user may ask for
// only with user_allow_other in /etc/fuse.conf; Mount says so up front.
//
// New entries are owned by the caller's fsuid and fsgid, from the request.
// The setgid-directory rule is applied here, as a local file system applies
// it in its create path: an entry made in a setgid directory takes the
// directory's group, and a new subdirectory is setgid too. The kernel applies
// the caller's umask to the mode before sending it (we do not ask for
// FUSE_DONT_MASK), and strips a new file's setgid bit where the caller is
// not in its group.
//
// Clearing setuid and setgid when an unprivileged caller writes to or
// truncates a file is ours too (the FUSE_HANDLE_KILLPRIV_V2 contract): the
// kernel flags those requests and killPriv clears the bits. In return the
// kernel stops asking for security.capability before every write(2), one
// round trip per write that would otherwise cost small writes dearly.
//
// # Errors
//
// drive sentinel -> errno: ErrNotFound ENOENT, ErrExists EEXIST, ErrNotDir
// ENOTDIR, ErrIsDir EISDIR, ErrNotEmpty ENOTEMPTY, ErrNameTooLong
// ENAMETOOLONG, ErrInvalid EINVAL, ErrNoXattr ENODATA, ErrNotSupported
// ENOTSUP (= EOPNOTSUPP), ErrPermission EPERM, ErrNoSpace ENOSPC; a full or
// over-quota cache disk (syscall ENOSPC, EDQUOT anywhere in the chain) keeps
// its errno, as an application can act on it. Everything else is EIO and is
// logged at Warn with the operation and inode number (never a file name):
// a failing disk, an unreachable network, a block that fails authentication
// or a bug, none of which an application could tell apart by errno anyway,
// and which must never pass for ENOENT or EACCES. Cancellation goes back as
// context.Canceled, which bazil answers EINTR when the kernel interrupted
// the request. The adapter's own refusals (mknod of a device: EPERM) carry
// their errno directly.
//
// Only reads and writes can be interrupted (they may wait for farmers or for
// room in the cache; an interrupted one answers EINTR). Every other request
// runs to its end even if the caller is signalled, as on a local disk: an
// interrupted create or rename would otherwise be reported as failed while
// it was done.
//
// ENOSYS is special to FUSE: the kernel takes it to mean "never implemented"
// and stops sending that request. The adapter uses that on purpose for POLL
// (below) and never returns it otherwise.
//
// # Caches and the write-back cache
//
// Attributes and names are cached by the kernel for AttrTimeout and
// EntryTimeout (1 s by default; entries made by mkdir, mknod, symlink and
// link for bazil's fixed minute, since bazil gives those requests no
// response to set it on). That is right while every change goes through the
// mount; a change made past it (another front of the same drive) is
// announced with Mounted.InvalidateEntry and Mounted.InvalidateNode.
// KeepCache, off by default, keeps file pages in the kernel between opens.
//
// With the write-back cache (on by default) the kernel also reads around
// partial page writes through whatever handle it has, so write-only opens
// are made read-write; and it places appended data itself, at offsets it
// computes from its own idea of the size, so O_APPEND is not passed on.
// fsync reaches a node, not a handle, and the kernel may have written
// through any writable handle of the file: fsync syncs them all.
//
// # POLL, and opening files on one's own mount
//
// Go's os.Open registers every file with epoll from inside the runtime,
// holding its P. On a FUSE file that epoll_ctl sends POLL to the server; in
// the same process, a garbage collection that waits for that P while the
// answer needs another goroutine deadlocks the whole process. The adapter
// answers POLL with ENOSYS, so the kernel asks once per connection and then
// reports files always ready itself (what bazil's default answer said, but
// asked every time). The first POLL can still meet a collection: a process
// serving a mount must not os.Open files on it (tests prime the kernel with
// a plain epoll_ctl system call first), and must never touch mmap'ed pages of
// its own mount at all (a page fault blocks inside Go code the same way).
//
// # What bazil (last release 2023) does not do, and what then happens
//
// Decision: the adapter stays on the released bazil.org/fuse. None of the
// programs this repository runs on the mount (git, sqlite3 with WAL, tar,
// rsync, vim, LibreOffice, Python, dd, mmap readers and writers) needs a
// request below, and each has a working fallback in the kernel or libc. If a
// user's program or a performance target comes to need one (READDIRPLUS for
// `ls -l` of very large folders is the likeliest), the route is a vendored
// copy of bazil with a small, tested patch behind a go.mod replace, not a
// second FUSE library. The drive already implements the semantics the
// requests would reach (RENAME_NOREPLACE, RENAME_EXCHANGE).
//
//   - RENAME2 (renameat2 with RENAME_NOREPLACE or RENAME_EXCHANGE): bazil
//     answers ENOSYS; the kernel answers EINVAL to that call and every later
//     one with flags, without asking again. Plain rename(2) works; callers
//     such as mv fall back to it. The drive implements both flags, for a
//     bazil patch or another front.
//   - FALLOCATE: the adapter has no handler; bazil answers ENOTSUP, the kernel
//     EOPNOTSUPP, and glibc's posix_fallocate falls back to writing. Growing
//     a file safely needs an "extend to at least" call in the drive, since a
//     read-size-then-truncate here would race with write-back.
//   - LSEEK (SEEK_DATA, SEEK_HOLE): ENOSYS; the kernel then treats the whole
//     file as data, so holes read as zeros but are not reported as holes.
//   - READDIRPLUS: bazil does not offer it, so `ls -l` costs a lookup (and
//     perhaps a getattr) per entry.
//   - COPY_FILE_RANGE: ENOSYS; the kernel and coreutils fall back to copying
//     through read and write.
//   - The sticky bit: bazil's attribute encoder drops S_ISVTX. It is stored
//     (chmod +t is kept by the drive), but stat does not show it and the
//     kernel does not enforce it. The drive enforces it instead: unlink,
//     rmdir and rename pass the caller's uid (drive.Caller), and in a
//     sticky directory only root, the entry's owner or the directory's
//     owner may remove, move away or replace an entry (EPERM otherwise), as
//     Linux's check_sticky. One difference is left: the kernel checks the
//     entry's kind before it asks us, so an unlink of another's directory
//     there answers EISDIR, an rmdir of another's file ENOTDIR (a rename
//     likewise), where a local disk answers EPERM; both refuse.
//   - Locks (flock, POSIX byte ranges): left to the kernel, local to this
//     machine, which is what we want.
//
// st_blocks is the size rounded up to 512-byte units: the adapter does not
// know which blocks are holes, so sparse files count whole in du.
//
// # Lifetime
//
// Mount returns when the mount is live: bazil's fuse.Mount has run
// fusermount3 and answered the kernel's INIT, and serving has started.
// Unmount retries a busy mount for about two seconds, then fails with
// ErrBusy or, with Options.LazyUnmount, detaches it lazily. Wait returns
// when serving has ended, however it ended. Signals are the caller's.
//
// bazil itself logs through the standard log package in two places (output
// of fusermount3, and a panic in a handler); everything of ours goes to
// Options.Logger, per request at LevelTrace.
//
// # Checked against programs and other users
//
// Besides the POSIX cases (posix_test.go) and the random differential run
// against a local directory, the tests run real programs on the mount: git
// (clone, commit, gc, fsck), sqlite3 in WAL mode, tar, rsync, python, and
// getfattr (TestApps); vim with each write strategy (backup and rename,
// backupcopy=yes and no, nowritebackup), a new file, a swap file, a crash
// and a recovery, compared byte for byte and mode for mode with the same
// edits on a local disk (TestVim); LibreOffice converting text to ODT, PDF
// and DOCX and back (TestOffice, where LibreOffice is installed:
// scripts/deps.sh --long). TestPermissionsDifferential runs some eighty
// calls as root, as nobody and as a third user through setpriv on an
// allow_other mount and on a local directory, and compares each errno and
// what was made: mode bits, owners, utimes, chown and chmod rules, exec
// bits, directory search and read bits, xattrs, O_NOATIME, hard-link
// protection, setgid directories, sticky directories. What differs is the
// sticky bit in stat, and which errno comes when two refusals meet (above).
package mount
