package service

// SyncFS does nothing on Windows: it exists for FUSE mounts, which this
// platform does not have.
func SyncFS(dir string) error { return nil }
