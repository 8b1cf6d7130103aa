//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package controlplane

import (
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes the token cache's lock in dir, waiting for other processes
// that hold it, and returns the function that releases it.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "oauth-tokens.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
