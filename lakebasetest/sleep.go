package lakebasetest

import "time"

// sleep waits d unless stop or end is closed first (a nil channel never
// is); it reports whether the full time passed.
func sleep(d time.Duration, stop, end <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-end:
		return false
	}
}
