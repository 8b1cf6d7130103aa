//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package lakebase

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports, without blocking or consuming anything, whether the
// other end has closed conn (errSessionClosed) or reset it. Data waiting to
// be read means open: lib/pq reads it (a server's FATAL message, say).
func peerClosed(conn net.Conn) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	var closed error
	_ = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n == 0 && err == nil:
			closed = errSessionClosed
		case err == nil, errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		default:
			closed = err
		}
		return true // never wait
	})
	return closed
}
