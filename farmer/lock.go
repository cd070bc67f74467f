package farmer

import "time"

// Taking the data directory's lock is retried briefly so that a farmer
// starting while `shardfarmer stats` probes the lock (lockHeld, a shared
// lock held for microseconds) waits the probe out instead of failing as
// "in use". A farmer that really holds the directory still makes the
// second one fail, about a tenth of a second later.
const (
	lockTries     = 5
	lockRetryWait = 20 * time.Millisecond
)

// retryLocked calls try until it succeeds, fails other than busy, or
// lockTries calls were busy; it returns the last error.
func retryLocked(try func() error, busy func(error) bool) error {
	var err error
	for i := range lockTries {
		if i > 0 {
			time.Sleep(lockRetryWait)
		}
		if err = try(); err == nil || !busy(err) {
			return err
		}
	}
	return err
}
