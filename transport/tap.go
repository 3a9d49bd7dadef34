package transport

import (
	"net"
	"net/netip"
	"sync"
)

// tapTable maps a subscriber's address (its selected candidate) to its send path, for the
// RTCP tap on the ICE sockets.
type tapTable struct {
	mu sync.RWMutex
	m  map[netip.AddrPort]*SendPath
}

func (t *tapTable) add(a netip.AddrPort, s *SendPath) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[netip.AddrPort]*SendPath{}
	}
	t.m[a] = s
	t.mu.Unlock()
}

func (t *tapTable) remove(a netip.AddrPort, s *SendPath) {
	t.mu.Lock()
	if t.m[a] == s {
		delete(t.m, a)
	}
	t.mu.Unlock()
}

func (t *tapTable) lookup(a netip.AddrPort) *SendPath {
	t.mu.RLock()
	s := t.m[a]
	t.mu.RUnlock()
	return s
}

// looksRTCP tells RTCP from RTP, STUN and DTLS on a multiplexed port (RFC 7983 section 7,
// RFC 5761 section 4): version 2 and a packet type of 192-223 in the second octet.
func looksRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// take reports whether a datagram from a was a subscriber's RTCP the tap handled.
func (t *tapTable) take(b []byte, a netip.AddrPort) bool {
	if !looksRTCP(b) {
		return false
	}
	s := t.lookup(netip.AddrPortFrom(a.Addr().Unmap(), a.Port()))
	return s != nil && s.takeRTCP(b)
}

// rtcpTap is an ICE socket as the UDP mux reads it: RTCP that subscribers send is handled
// on the read goroutine, decrypted with the connection's keys (SendPath.takeRTCP), instead of
// crossing pion's receive path (mux, ICE connection, SRTCP session, a read stream and a
// goroutine per sender it names). Everything else reaches the mux as it came.
//
// It offers the mux the address-port read it prefers (the ice package's
// AddrPortReaderWriter), so the read allocates nothing.
type rtcpTap struct {
	*net.UDPConn
	taps *tapTable
	raw  *rawReader // nil: read through the net package
}

// ReadFromAddrPort reads the next datagram the tap does not take.
func (c *rtcpTap) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		var (
			n   int
			a   netip.AddrPort
			err error
		)
		if c.raw != nil {
			n, a, err = c.raw.read(b)
		} else {
			n, a, err = c.UDPConn.ReadFromUDPAddrPort(b)
		}
		if err != nil || !c.taps.take(b[:n], a) {
			return n, a, err
		}
	}
}

// WriteToAddrPort writes one datagram.
func (c *rtcpTap) WriteToAddrPort(b []byte, a netip.AddrPort) (int, error) {
	return c.UDPConn.WriteToUDPAddrPort(b, a)
}

// ReadFrom reads the next datagram the tap does not take.
func (c *rtcpTap) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(a), nil
}

// packetTap is rtcpTap for sockets that are not kernel UDP sockets (pion's virtual network
// in tests).
type packetTap struct {
	net.PacketConn
	taps *tapTable
}

// ReadFrom reads the next datagram the tap does not take.
func (c *packetTap) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, a, err
		}
		ua, ok := a.(*net.UDPAddr)
		if !ok || !c.taps.take(b[:n], ua.AddrPort()) {
			return n, a, err
		}
	}
}

// tapped wraps a socket in the RTCP tap.
func tapped(conn net.PacketConn, taps *tapTable) net.PacketConn {
	if uc, ok := conn.(*net.UDPConn); ok {
		return &rtcpTap{UDPConn: uc, taps: taps, raw: newRawReader(uc)}
	}
	return &packetTap{PacketConn: conn, taps: taps}
}
