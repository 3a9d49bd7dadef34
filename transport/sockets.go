package transport

import (
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/pion/webrtc/v4"
)

// Socket is one of the node's ICE UDP sockets, as the direct send path writes to it.
type Socket struct {
	conn net.PacketConn
	udp  *net.UDPConn // conn, when it is a kernel socket
	addr netip.AddrPort
	errs atomic.Uint64 // datagrams the kernel refused
}

// NewSocket wraps one of the node's sockets for the send paths that write to it.
func NewSocket(conn net.PacketConn) *Socket {
	s := &Socket{conn: conn}
	s.udp, _ = conn.(*net.UDPConn)
	if a, err := netip.ParseAddrPort(conn.LocalAddr().String()); err == nil {
		s.addr = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return s
}

// writeTo sends one datagram now.
func (s *Socket) writeTo(b []byte, to netip.AddrPort) (int, error) {
	var (
		n   int
		err error
	)
	if s.udp != nil {
		n, err = s.udp.WriteToUDPAddrPort(b, to)
	} else {
		n, err = s.conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
	}
	if err != nil {
		s.errs.Add(1)
	}
	return n, err
}

// socketSet is every ICE UDP socket of the node.
type socketSet struct {
	socks  []*Socket
	nodeIP netip.Addr // replaces host candidate addresses (Config.NodeIP), if set
}

// lookup finds the socket a local candidate lives on, or nil.
func (ss *socketSet) lookup(c *webrtc.ICECandidate) *Socket {
	if c.Protocol != webrtc.ICEProtocolUDP {
		return nil
	}
	match := func(addr string, port uint16) *Socket {
		ip, err := netip.ParseAddr(addr)
		if err != nil {
			return nil
		}
		ip = ip.Unmap()
		var only *Socket
		count := 0
		for _, s := range ss.socks {
			if s.addr.Port() != port {
				continue
			}
			if s.addr.Addr() == ip || s.addr.Addr().IsUnspecified() {
				return s
			}
			only = s
			count++
		}
		// A host candidate whose address was replaced by the node's public IP: unambiguous
		// when one socket has the port.
		if ss.nodeIP.IsValid() && ip == ss.nodeIP && count == 1 {
			return only
		}
		return nil
	}
	if s := match(c.Address, c.Port); s != nil {
		return s
	}
	if c.RelatedAddress != "" {
		return match(c.RelatedAddress, c.RelatedPort) // server reflexive: its base
	}
	return nil
}

// Batch sizes: a batch holds up to batchMax packets of at most batchSlotSize bytes.
const (
	batchMax      = 64
	batchSlotSize = 1600 // a full-size received packet, the transport-wide extension and the SRTP tag
)

// Batch gathers the packets one goroutine writes to subscribers through their direct send
// paths and sends them together, one sendmmsg(2) per socket, at Flush (or when it holds
// batchMax). A forwarding goroutine owns one and flushes it after each packet's fan-out; it
// is not safe for concurrent use. Slots are allocated on first use and kept.
type Batch struct {
	slots   [][]byte
	streams []*DirectStream // the stream of each packet waiting, told when it leaves
	n       int
	outs    []batchOut
}

type batchOut struct {
	sock *Socket
	ub   *udpBatch
}

// NewBatch makes an empty batch.
func NewBatch() *Batch { return &Batch{} }

// slot is the buffer the next packet is sealed into.
func (b *Batch) slot() []byte {
	if b.n == batchMax {
		b.Flush()
	}
	if b.n == len(b.slots) {
		b.slots = append(b.slots, make([]byte, batchSlotSize))
	}
	return b.slots[b.n]
}

// commit queues the sealed packet of stream d in the current slot for route.
func (b *Batch) commit(route *sendRoute, enc []byte, d *DirectStream) error {
	var out *batchOut
	for i := range b.outs {
		if b.outs[i].sock == route.sock {
			out = &b.outs[i]
			break
		}
	}
	if out == nil {
		b.outs = append(b.outs, batchOut{sock: route.sock, ub: newUDPBatch(route.sock.conn, batchMax)})
		out = &b.outs[len(b.outs)-1]
	}
	b.streams = append(b.streams, d)
	b.n++
	return out.ub.add(enc, route.to)
}

// Len is the number of packets waiting.
func (b *Batch) Len() int { return b.n }

// Flush sends what the batch holds.
func (b *Batch) Flush() {
	if b.n == 0 {
		return
	}
	for i := range b.outs {
		o := &b.outs[i]
		queued := o.ub.len()
		if queued == 0 {
			continue
		}
		if sent, err := o.ub.flush(); err != nil {
			o.sock.errs.Add(uint64(max(queued-sent, 1)))
		}
	}
	for i, d := range b.streams {
		d.pending.Add(-1)
		b.streams[i] = nil
	}
	b.streams = b.streams[:0]
	b.n = 0
}
