//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package lakebase

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed looks at conn without blocking or consuming anything: closed is
// errSessionClosed when the other end has closed it, or the error of a reset;
// waiting reports data to be read.
func peerClosed(conn net.Conn) (closed error, waiting bool) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	_ = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case n > 0:
			waiting = true
		case n == 0 && err == nil:
			closed = errSessionClosed
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		default:
			closed = err
		}
		return true // never wait
	})
	return closed, waiting
}
