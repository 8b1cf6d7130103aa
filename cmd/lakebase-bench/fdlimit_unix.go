//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// raiseFileLimit makes sure this process, and the processes it starts from
// now on, may open need files. Go raises its own soft limit to the hard
// one at start, but gives the programs it starts the soft limit it found,
// which may be too low for the kit's PgBouncer; setting the limit here makes
// them inherit it. Above the hard limit it fails, naming both.
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	if lim.Cur < need {
		return fmt.Errorf("bench: the held connections need about %d open files, and the limit is %d (hard limit %d): raise it with ulimit -n, or hold fewer with -held", need, lim.Cur, lim.Max)
	}
	return nil
}
