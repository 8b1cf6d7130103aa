//go:build unix

package pgserver

import "syscall"

// passFileLimit lets the programs this process starts from now on open as
// many files as it may itself. Go raises its own soft limit to the hard one
// at start, but starts programs with the soft limit it found, which is too
// low for a PgBouncer of thousands of clients where it is 1024 (their
// logins would wait for a free descriptor until their budget ends). Setting
// the limit, to what Go raised it to, makes the children inherit it.
func passFileLimit() {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
}
