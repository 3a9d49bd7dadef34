//go:build linux

package transport

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawReader reads datagrams from a socket with raw recvfrom(2) calls, for the one goroutine
// that reads an ICE socket. The socket is non-blocking: a read that finds nothing returns
// EAGAIN and the goroutine waits in the runtime's poller as with any read. What the raw
// call saves is the runtime's system-call bookkeeping, which on every read while the
// process was idle woke the runtime's monitor thread into polling every 20 µs (a fifth of
// the node's CPU at conference load).
type rawReader struct {
	rc syscall.RawConn
	fn func(fd uintptr) bool // recv, bound once so a read creates no closure

	// The read in progress (one at a time).
	buf  []byte
	n    int
	from netip.AddrPort
	err  error
	sa   unix.RawSockaddrAny
}

func newRawReader(uc *net.UDPConn) *rawReader {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawReader{rc: rc}
	r.fn = r.recv
	return r
}

// read reads one datagram into b.
func (r *rawReader) read(b []byte) (int, netip.AddrPort, error) {
	r.buf = b
	err := r.rc.Read(r.fn)
	r.buf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	return r.n, r.from, r.err
}

func (r *rawReader) recv(fd uintptr) bool {
	for {
		salen := uint32(unsafe.Sizeof(r.sa))
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.buf))),
			uintptr(len(r.buf)), 0, uintptr(unsafe.Pointer(&r.sa)), uintptr(unsafe.Pointer(&salen)))
		switch errno {
		case 0:
			r.n, r.from, r.err = int(n), sockaddrAddrPort(&r.sa), nil
			return true
		case unix.EAGAIN:
			return false
		case unix.EINTR, unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH:
			// Interrupted, or an ICMP error about an earlier send: not this socket's end.
			continue
		default:
			r.n, r.err = 0, os.NewSyscallError("recvfrom", errno)
			return true
		}
	}
}

// sockaddrAddrPort converts a socket address from the kernel.
func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		s := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&s.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(s.Addr), port)
	case unix.AF_INET6:
		s := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&s.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom16(s.Addr), port)
	}
	return netip.AddrPort{}
}
