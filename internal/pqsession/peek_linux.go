package pqsession

import (
	"syscall"
	"unsafe"
)

// peekOne looks at the first byte waiting on the socket fd without taking
// it or blocking. The call cannot block, so it skips the runtime's
// bookkeeping for blocking system calls: about a sixth of its cost here.
func peekOne(fd uintptr) (int, error) {
	var b [1]byte
	n, _, errno := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
