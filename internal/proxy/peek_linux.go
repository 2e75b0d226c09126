package proxy

import (
	"net"
	"syscall"
)

// peekIdle reports whether a pooled connection is still good to use: the
// upstream has not closed it and has sent nothing unasked (bytes that would
// otherwise become the next caller's answer). It asks the kernel without
// waiting (MSG_PEEK|MSG_DONTWAIT), one syscall per reuse.
func peekIdle(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait
	})
	return err == nil && ok
}
