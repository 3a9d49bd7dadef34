package transport

import (
	"errors"
	"net"
	"net/netip"
	"os"
)

// udpBatch queues datagrams for one socket and sends them together: one sendmmsg(2) per
// Flush on Linux when the socket is a *net.UDPConn, one WriteTo per datagram otherwise
// (pion vnet connections in tests).
//
// The forwarding path writes the same RTP packet to many subscribers; handing the kernel a
// whole batch in one system call instead of one call per datagram is where most of the
// per-packet CPU goes. A batch is owned by one goroutine and is not safe for concurrent use;
// several batches may share a socket.
type udpBatch struct {
	conn net.PacketConn
	// bufs and dsts are the queued datagrams and their destinations, in the order added.
	// Their capacity is the batch size and never grows.
	bufs [][]byte
	dsts []netip.AddrPort
	// sys is the platform's fast path; when it is not active, flush writes one datagram at a
	// time.
	sys udpBatchSys
}

// newUDPBatch makes a batch for conn that holds at most max datagrams (max >= 1).
func newUDPBatch(conn net.PacketConn, max int) *udpBatch {
	if max < 1 {
		max = 1
	}
	b := &udpBatch{
		conn: conn,
		bufs: make([][]byte, 0, max),
		dsts: make([]netip.AddrPort, 0, max),
	}
	b.sys.init(b, max)
	return b
}

// add queues buf for to. The batch keeps buf until Flush returns; the caller must not change it
// before then. When the batch is full, add flushes it first. It reports the error of that flush, if any.
func (b *udpBatch) add(buf []byte, to netip.AddrPort) error {
	var err error
	if len(b.bufs) == cap(b.bufs) {
		_, err = b.flush()
	}
	b.bufs = append(b.bufs, buf)
	b.dsts = append(b.dsts, to)
	return err
}

// len is the number of datagrams queued.
func (b *udpBatch) len() int { return len(b.bufs) }

// flush sends every queued datagram and empties the batch, even when some fail. It returns how many
// the kernel took and the first error.
func (b *udpBatch) flush() (int, error) {
	if len(b.bufs) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if b.sys.active() {
		n, err = b.sys.flush(b)
	} else {
		n, err = b.writeEach()
	}
	// Drop the references so the batch does not keep the caller's buffers alive.
	clear(b.bufs)
	b.bufs = b.bufs[:0]
	b.dsts = b.dsts[:0]
	return n, err
}

// writeEach is the portable path: one write per datagram. A datagram that fails does not stop
// the rest, except when the socket itself is closed or past its write deadline, where every
// further write would fail the same way.
func (b *udpBatch) writeEach() (int, error) {
	uc, _ := b.conn.(*net.UDPConn)
	sent := 0
	var first error
	for i, buf := range b.bufs {
		var err error
		if uc != nil {
			_, err = uc.WriteToUDPAddrPort(buf, b.dsts[i])
		} else {
			// Other connections (pion vnet) expect a *net.UDPAddr; this allocates, which is
			// acceptable off the production path.
			_, err = b.conn.WriteTo(buf, net.UDPAddrFromAddrPort(b.dsts[i]))
		}
		if err == nil {
			sent++
			continue
		}
		if first == nil {
			first = err
		}
		if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
	}
	return sent, first
}
