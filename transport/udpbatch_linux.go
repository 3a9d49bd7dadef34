//go:build linux

package transport

import (
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr from <sys/socket.h>: one message header and the number of bytes the
// kernel sent for it. Go pads the struct to the alignment of msghdr exactly as C does, so the
// layout matches the kernel's on both 32- and 64-bit architectures.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// udpBatchSys is the sendmmsg(2) path. Everything the system call reads (message headers,
// iovecs, socket addresses) is allocated once in init, and each message header already points at
// its own iovec and address slot, so a flush only fills in the per-datagram fields.
type udpBatchSys struct {
	raw   syscall.RawConn // nil when the fast path is off
	fam   int             // unix.AF_INET or unix.AF_INET6
	local net.Addr        // the socket's address, for error messages
	msgs  []mmsghdr
	iovs  []unix.Iovec
	sa4   []unix.RawSockaddrInet4 // used by AF_INET sockets
	sa6   []unix.RawSockaddrInet6 // used by AF_INET6 sockets
	// write is the RawConn.Write callback, bound once here so that a flush creates no closure.
	write func(fd uintptr) bool

	// State of the flush in progress. The runtime may call write several times for one flush
	// (once after every wait for the socket to become writable), so progress lives here.
	count int   // messages in this flush
	next  int   // first message not yet handed to the kernel
	sent  int   // messages the kernel took
	err   error // first per-datagram error
}

// init turns the fast path on when conn is a *net.UDPConn whose address family it can read.
// Anything else keeps the portable one-write-per-datagram path.
func (s *udpBatchSys) init(b *udpBatch, max int) {
	uc, ok := b.conn.(*net.UDPConn)
	if !ok {
		return
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return
	}
	// The local address does not say the family reliably: a socket opened as "udp" on
	// 0.0.0.0 is an AF_INET6 dual-stack socket on Linux. Ask the kernel instead.
	fam := -1
	var optErr error
	err = raw.Control(func(fd uintptr) {
		fam, optErr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	})
	if err != nil || optErr != nil || (fam != unix.AF_INET && fam != unix.AF_INET6) {
		return
	}
	s.msgs = make([]mmsghdr, max)
	s.iovs = make([]unix.Iovec, max)
	if fam == unix.AF_INET {
		s.sa4 = make([]unix.RawSockaddrInet4, max)
	} else {
		s.sa6 = make([]unix.RawSockaddrInet6, max)
	}
	for i := range s.msgs {
		h := &s.msgs[i].hdr
		h.Iov = &s.iovs[i]
		h.SetIovlen(1)
		if fam == unix.AF_INET {
			h.Name = (*byte)(unsafe.Pointer(&s.sa4[i]))
		} else {
			h.Name = (*byte)(unsafe.Pointer(&s.sa6[i]))
		}
	}
	s.raw = raw
	s.fam = fam
	s.local = uc.LocalAddr()
	s.write = b.sendQueued
}

func (s *udpBatchSys) active() bool { return s.raw != nil }

// family is the socket's address family when the fast path is active, 0 otherwise.
func (s *udpBatchSys) family() int {
	if s.raw == nil {
		return 0
	}
	return s.fam
}

// flush fills in one message per queued datagram and hands them to the kernel.
func (s *udpBatchSys) flush(b *udpBatch) (int, error) {
	count := len(b.bufs)
	for i, buf := range b.bufs {
		// SliceData is valid for an empty slice too; the kernel reads nothing then.
		s.iovs[i].Base = unsafe.SliceData(buf)
		s.iovs[i].SetLen(len(buf))
		// A zero name length marks a destination the socket cannot reach; sendQueued
		// skips it without a system call.
		s.msgs[i].hdr.Namelen = s.putAddr(i, b.dsts[i])
		s.msgs[i].n = 0
	}
	s.count, s.next, s.sent, s.err = count, 0, 0, nil
	werr := s.raw.Write(s.write)
	// Forget the caller's buffers so the batch does not keep them alive.
	for i := range count {
		s.iovs[i].Base = nil
	}
	sent, err := s.sent, s.err
	s.err = nil
	if err == nil {
		// Closed socket or write deadline: what was not sent by then is dropped.
		err = werr
	}
	return sent, err
}

// putAddr writes the socket address for to into slot i and returns its length, or 0 when to
// cannot be sent from this socket (an invalid address, or IPv6 on an IPv4 socket).
func (s *udpBatchSys) putAddr(i int, to netip.AddrPort) uint32 {
	ip := to.Addr()
	if s.fam == unix.AF_INET {
		if !ip.Is4() && !ip.Is4In6() {
			return 0
		}
		sa := &s.sa4[i]
		sa.Family = unix.AF_INET
		putPort(&sa.Port, to.Port())
		sa.Addr = ip.Unmap().As4()
		return unix.SizeofSockaddrInet4
	}
	if !ip.IsValid() {
		return 0
	}
	sa := &s.sa6[i]
	sa.Family = unix.AF_INET6
	putPort(&sa.Port, to.Port())
	sa.Flowinfo = 0
	// As16 of an IPv4 address is its v4-mapped form (::ffff:a.b.c.d), which a dual-stack
	// socket sends as IPv4.
	sa.Addr = ip.As16()
	sa.Scope_id = 0
	if z := ip.Zone(); z != "" {
		sa.Scope_id = zoneIndex(z)
	}
	return unix.SizeofSockaddrInet6
}

// putPort stores port in network byte order, as the sockaddr structures hold it.
func putPort(dst *uint16, port uint16) {
	p := (*[2]byte)(unsafe.Pointer(dst))
	p[0] = byte(port >> 8)
	p[1] = byte(port)
}

// zoneIndex turns an IPv6 zone (an interface name or number) into the interface index the
// kernel wants. Only link-local destinations have zones, so the lookup cost does not matter.
// An unknown zone gives 0, and the kernel then rejects the datagram.
func zoneIndex(zone string) uint32 {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

// sendQueued is the RawConn.Write callback. It sends messages next..count-1 with as few
// sendmmsg calls as the kernel allows and returns false to wait for writability on EAGAIN.
//
// sendmmsg stops at the first message that fails; it reports the error only when that message
// is the first of the call, and otherwise returns how many went before it. So a failing
// datagram is always met at the head of a later call, where it is recorded and stepped over,
// and it never holds up the ones behind it.
func (b *udpBatch) sendQueued(fd uintptr) bool {
	s := &b.sys
	for s.next < s.count {
		if s.msgs[s.next].hdr.Namelen == 0 {
			// The destination is in the error's address already.
			s.fail(b, s.next, &net.AddrError{Err: "destination does not fit the socket's address family"})
			s.next++
			continue
		}
		end := s.next + 1
		for end < s.count && s.msgs[end].hdr.Namelen != 0 {
			end++
		}
		// A raw system call: the socket is non-blocking, so sendmmsg never waits, and the
		// runtime need not hand this goroutine's P to another thread meanwhile. Through the
		// scheduler-aware call, a send of a few dozen datagrams (tens of microseconds) let
		// the runtime's monitor take the P away and wake a thread to run it, costing more
		// than the send itself.
		r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&s.msgs[s.next])), uintptr(end-s.next), 0, 0, 0)
		switch {
		case errno == unix.EINTR:
		case errno == unix.EAGAIN:
			return false
		case errno != 0:
			s.fail(b, s.next, os.NewSyscallError("sendmmsg", errno))
			s.next++
		case r == 0:
			// The kernel never returns 0 for a non-empty vector; stepping over the message
			// keeps the loop finite if it ever does.
			s.fail(b, s.next, io.ErrShortWrite)
			s.next++
		default:
			s.sent += int(r)
			s.next += int(r)
		}
	}
	return true
}

// fail records err for message i if it is the first error of this flush. It allocates, but only
// when something went wrong.
func (s *udpBatchSys) fail(b *udpBatch, i int, err error) {
	if s.err != nil {
		return
	}
	s.err = &net.OpError{Op: "write", Net: "udp", Source: s.local, Addr: net.UDPAddrFromAddrPort(b.dsts[i]), Err: err}
}
