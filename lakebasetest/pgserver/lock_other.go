//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package pgserver

import "context"

// lockFile does nothing where the kit cannot run a server anyway: processes
// that download at once each unpack, and the first rename wins.
func lockFile(context.Context, string) (unlock func(), err error) { return func() {}, nil }
