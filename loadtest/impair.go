package loadtest

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v4"
)

// socketBuffer is the receive buffer asked for on every socket of the load tester's peer
// connections. The default (about 200 KB) overflows when keyframes of several tracks arrive
// together, and the kernel's drops would read as loss caused by the SFU. Linux caps it at
// net.core.rmem_max.
const socketBuffer = 4 << 20

// clientNet is the operating system's network as the load tester's peer connections see it:
// larger socket receive buffers and, on subscriber connections, the Impairment applied to
// what UDP sockets receive. One is made per connection, so a bandwidth cap is that
// connection's.
type clientNet struct {
	transport.Net
	impair Impairment
}

func newClientNet(base transport.Net, impair Impairment) *clientNet {
	return &clientNet{Net: base, impair: impair}
}

func (n *clientNet) wrap(c transport.UDPConn) transport.UDPConn {
	_ = c.SetReadBuffer(socketBuffer) // best effort: the default still works, only worse
	if !n.impair.Active() {
		return c
	}
	return newImpairedConn(c, n.impair)
}

// ListenUDP wraps the sockets ICE gathers host candidates on.
func (n *clientNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return n.wrap(c), nil
}

// ListenPacket wraps UDP packet sockets the same way.
func (n *clientNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if uc, ok := c.(transport.UDPConn); ok {
		return n.wrap(uc), nil
	}
	return c, nil
}

// isMedia reports whether a datagram is RTP or RTCP: RFC 7983 section 7 demultiplexes by the
// first byte, 128..191 for RTP/RTCP, below that STUN, DTLS and others.
func isMedia(b []byte) bool { return len(b) > 0 && b[0] >= 128 && b[0] <= 191 }

// maxQueueDelay is the bottleneck queue of a bandwidth cap: what would wait longer is dropped.
const maxQueueDelay = 200 * time.Millisecond

// impairedConn drops and delays what a socket receives. Without a bandwidth cap it drops in
// ReadFrom; with one, a goroutine reads the socket into a queue that ReadFrom releases at
// the capped rate. It serves one reader at a time (ICE has one per socket).
type impairedConn struct {
	transport.UDPConn
	cfg Impairment

	mu     sync.Mutex // guards rng, queue, next, err
	rng    *rand.Rand
	queue  []queued
	next   time.Time // when the link is free again
	err    error     // the socket's read error, once it failed
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once
}

type queued struct {
	b    []byte
	from net.Addr
	at   time.Time // when it has crossed the link
}

func newImpairedConn(c transport.UDPConn, cfg Impairment) *impairedConn {
	ic := &impairedConn{UDPConn: c, cfg: cfg, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		wake: make(chan struct{}, 1), closed: make(chan struct{})}
	if cfg.BandwidthBps > 0 {
		go ic.pump()
	}
	return ic
}

// drop decides whether a received datagram is lost. Called with mu held.
func (c *impairedConn) dropLocked(b []byte) bool {
	return c.cfg.LossPercent > 0 && isMedia(b) && c.rng.Float64()*100 < c.cfg.LossPercent
}

// ReadFrom returns the next datagram that survives the impairment.
func (c *impairedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.cfg.BandwidthBps > 0 {
		return c.readShaped(p)
	}
	for {
		n, addr, err := c.UDPConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		c.mu.Lock()
		drop := c.dropLocked(p[:n])
		c.mu.Unlock()
		if !drop {
			return n, addr, nil
		}
	}
}

// ReadFromUDP is ReadFrom for callers that want a *net.UDPAddr.
func (c *impairedConn) ReadFromUDP(p []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.ReadFrom(p)
	ua, _ := addr.(*net.UDPAddr)
	return n, ua, err
}

// Read is ReadFrom without the address.
func (c *impairedConn) Read(p []byte) (int, error) {
	n, _, err := c.ReadFrom(p)
	return n, err
}

// pump moves datagrams from the socket into the queue, dropping what the loss rate or a full
// queue says, until the socket fails.
func (c *impairedConn) pump() {
	buf := make([]byte, 1<<16)
	for {
		n, addr, err := c.UDPConn.ReadFrom(buf)
		now := time.Now()
		c.mu.Lock()
		if err != nil {
			c.err = err
			c.mu.Unlock()
			c.signal()
			return
		}
		if !c.dropLocked(buf[:n]) {
			// Serialization delay on the capped link; the link queue holds maxQueueDelay.
			start := c.next
			if start.Before(now) {
				start = now
			}
			if !isMedia(buf[:n]) || start.Sub(now) <= maxQueueDelay {
				c.next = start.Add(time.Duration(int64(n) * 8 * int64(time.Second) / c.cfg.BandwidthBps))
				c.queue = append(c.queue, queued{b: append([]byte(nil), buf[:n]...), from: addr, at: c.next})
			}
		}
		c.mu.Unlock()
		c.signal()
	}
}

func (c *impairedConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

var errConnClosed = errors.New("loadtest: impaired connection closed")

func (c *impairedConn) readShaped(p []byte) (int, net.Addr, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		c.mu.Lock()
		var wait time.Duration
		if len(c.queue) > 0 {
			q := c.queue[0]
			if wait = time.Until(q.at); wait <= 0 {
				c.queue = c.queue[1:]
				c.mu.Unlock()
				return copy(p, q.b), q.from, nil
			}
		} else if c.err != nil {
			err := c.err
			c.mu.Unlock()
			return 0, nil, err
		}
		c.mu.Unlock()
		var tc <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-c.wake:
		case <-tc:
		case <-c.closed:
			return 0, nil, errConnClosed
		}
	}
}

// Close closes the socket (ending the pump) and wakes a waiting reader.
func (c *impairedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.UDPConn.Close()
}
