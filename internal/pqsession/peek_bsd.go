//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package pqsession

import "syscall"

// peekOne looks at the first byte waiting on the socket fd without taking
// it or blocking.
func peekOne(fd uintptr) (int, error) {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
