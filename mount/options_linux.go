package mount

import "bazil.org/fuse"

// mountOptions turns o into bazil's options.
func (o Options) mountOptions() []fuse.MountOption {
	opts := []fuse.MountOption{
		fuse.FSName(o.FSName),
		fuse.Subtype("shardrive"),
		fuse.DefaultPermissions(),
		fuse.MaxReadahead(o.MaxReadahead),
		// We clear setuid and setgid on the kernel's word (killPriv), so
		// the kernel need not ask for security.capability before every
		// write(2): one getxattr per inode instead.
		fuse.HandleKillPriv(),
	}
	if o.AllowOther {
		opts = append(opts, fuse.AllowOther())
	}
	if o.ReadOnly {
		opts = append(opts, fuse.ReadOnly())
	}
	if o.WritebackCache {
		opts = append(opts, fuse.WritebackCache())
	}
	if o.AsyncRead {
		opts = append(opts, fuse.AsyncRead())
	}
	if o.MaxBackground > 0 {
		opts = append(opts, fuse.MaxBackground(o.MaxBackground), fuse.CongestionThreshold(o.MaxBackground*3/4))
	}
	return opts
}
