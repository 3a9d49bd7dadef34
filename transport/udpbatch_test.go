package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// ubListen opens a UDP socket and fails the test if it cannot.
func ubListen(tb testing.TB, network, addr string) *net.UDPConn {
	tb.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		tb.Fatalf("listen %s %s: %v", network, addr, err)
	}
	tb.Cleanup(func() { _ = pc.Close() })
	uc := pc.(*net.UDPConn)
	// Room for a whole test batch, so nothing is dropped before the test reads it.
	_ = uc.SetReadBuffer(4 << 20)
	return uc
}

// ubHaveIPv6 reports whether the host has IPv6 loopback.
func ubHaveIPv6() bool {
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		return false
	}
	_ = pc.Close()
	return true
}

// ubAddr is the address a receiving socket is reached at.
func ubAddr(c *net.UDPConn) netip.AddrPort {
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// ubPayload is datagram seq of the given size: the sequence number, then bytes derived from it,
// so a reordered, truncated or corrupted datagram is seen.
func ubPayload(seq, size int) []byte {
	p := make([]byte, size)
	var head [4]byte
	binary.BigEndian.PutUint32(head[:], uint32(seq))
	copy(p, head[:])
	for j := 4; j < size; j++ {
		p[j] = byte(seq*31 + j)
	}
	return p
}

// ubReceive reads want datagrams from c, failing the test if they do not arrive in time.
func ubReceive(tb testing.TB, c *net.UDPConn, want int) [][]byte {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([][]byte, 0, want)
	buf := make([]byte, 1<<16)
	for len(got) < want {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			tb.Fatalf("%v got %d of %d datagrams: %v", c.LocalAddr(), len(got), want, err)
		}
		got = append(got, bytes.Clone(buf[:n]))
	}
	return got
}

// ubExpect checks that c receives exactly the datagrams in want, in order.
func ubExpect(tb testing.TB, c *net.UDPConn, want [][]byte) {
	tb.Helper()
	got := ubReceive(tb, c, len(want))
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			tb.Fatalf("%v datagram %d: got %d bytes, want %d (or contents differ)", c.LocalAddr(), i, len(got[i]), len(want[i]))
		}
	}
}

// ubWrapConn is a net.PacketConn that is not a *net.UDPConn, as a pion vnet connection is:
// the batch must fall back to one WriteTo per datagram.
type ubWrapConn struct{ net.PacketConn }

type ubSender struct {
	name   string
	conn   func(t *testing.T) net.PacketConn
	rcvNet string // network and address the receivers listen on
	rcvAt  string
	fast   bool // the sendmmsg path is expected on Linux
}

func ubSenders() []ubSender {
	return []ubSender{
		{"ipv4", func(t *testing.T) net.PacketConn { return ubListen(t, "udp", "127.0.0.1:0") }, "udp", "127.0.0.1:0", true},
		{"ipv6", func(t *testing.T) net.PacketConn {
			if !ubHaveIPv6() {
				t.Skip("no IPv6 loopback")
			}
			return ubListen(t, "udp", "[::1]:0")
		}, "udp", "[::1]:0", true},
		{"fallback", func(t *testing.T) net.PacketConn {
			return ubWrapConn{ubListen(t, "udp", "127.0.0.1:0")}
		}, "udp", "127.0.0.1:0", false},
	}
}

func ubCheckPath(t *testing.T, b *udpBatch, fast bool) {
	t.Helper()
	if runtime.GOOS == "linux" && b.sys.active() != fast {
		t.Fatalf("sendmmsg path active = %v, want %v", b.sys.active(), fast)
	}
}

func TestUDPBatchDeliversInOrder(t *testing.T) {
	for _, s := range ubSenders() {
		t.Run(s.name, func(t *testing.T) {
			conn := s.conn(t)
			var rcv [3]*net.UDPConn
			for i := range rcv {
				rcv[i] = ubListen(t, s.rcvNet, s.rcvAt)
			}
			const n = 100
			b := newUDPBatch(conn, n)
			ubCheckPath(t, b, s.fast)
			want := make([][][]byte, len(rcv))
			for i := range n {
				// Sizes from 0 (an empty datagram) up to 1400 bytes.
				p := ubPayload(i, i*137%1401)
				r := i % len(rcv)
				want[r] = append(want[r], p)
				if err := b.add(p, ubAddr(rcv[r])); err != nil {
					t.Fatal(err)
				}
			}
			if b.len() != n {
				t.Fatalf("len %d, want %d", b.len(), n)
			}
			sent, err := b.flush()
			if sent != n || err != nil {
				t.Fatalf("flush = %d, %v; want %d, nil", sent, err, n)
			}
			if b.len() != 0 {
				t.Fatalf("len %d after flush", b.len())
			}
			for r := range rcv {
				ubExpect(t, rcv[r], want[r])
			}
			// An empty batch flushes to nothing.
			if sent, err := b.flush(); sent != 0 || err != nil {
				t.Fatalf("empty flush = %d, %v", sent, err)
			}
		})
	}
}

func TestUDPBatchFlushesWhenFull(t *testing.T) {
	for _, s := range ubSenders() {
		t.Run(s.name, func(t *testing.T) {
			conn := s.conn(t)
			rcv := ubListen(t, s.rcvNet, s.rcvAt)
			b := newUDPBatch(conn, 4)
			var want [][]byte
			for i := range 10 {
				p := ubPayload(i, 100+i)
				want = append(want, p)
				if err := b.add(p, ubAddr(rcv)); err != nil {
					t.Fatal(err)
				}
			}
			// Two full batches went out from add; two datagrams wait for flush.
			if b.len() != 2 {
				t.Fatalf("len %d, want 2", b.len())
			}
			ubExpect(t, rcv, want[:8])
			if sent, err := b.flush(); sent != 2 || err != nil {
				t.Fatalf("flush = %d, %v; want 2, nil", sent, err)
			}
			ubExpect(t, rcv, want[8:])
		})
	}
}

func TestUDPBatchSkipsRejectedDatagrams(t *testing.T) {
	for _, s := range ubSenders() {
		t.Run(s.name, func(t *testing.T) {
			conn := s.conn(t)
			rcv := [2]*net.UDPConn{ubListen(t, s.rcvNet, s.rcvAt), ubListen(t, s.rcvNet, s.rcvAt)}
			b := newUDPBatch(conn, 16)
			// Oversize datagrams first (sendmmsg fails outright), in the middle (it sends
			// the ones before and stops) and last.
			oversize := map[int]bool{0: true, 5: true, 9: true}
			var want [2][][]byte
			for i := range 10 {
				r := i % 2
				if oversize[i] {
					if err := b.add(make([]byte, 70000), ubAddr(rcv[r])); err != nil {
						t.Fatal(err)
					}
					continue
				}
				p := ubPayload(i, 1000)
				want[r] = append(want[r], p)
				if err := b.add(p, ubAddr(rcv[r])); err != nil {
					t.Fatal(err)
				}
			}
			sent, err := b.flush()
			if sent != 7 || err == nil {
				t.Fatalf("flush = %d, %v; want 7 and an error", sent, err)
			}
			if runtime.GOOS == "linux" && !errors.Is(err, syscall.EMSGSIZE) {
				t.Fatalf("error %v, want EMSGSIZE", err)
			}
			for r := range rcv {
				ubExpect(t, rcv[r], want[r])
			}
		})
	}
}

func TestUDPBatchSkipsUnreachableDestinations(t *testing.T) {
	for _, s := range ubSenders() {
		if s.name == "ipv6" {
			continue // every destination below fits an IPv6 socket except the invalid one
		}
		t.Run(s.name, func(t *testing.T) {
			conn := s.conn(t)
			rcv := ubListen(t, s.rcvNet, s.rcvAt)
			b := newUDPBatch(conn, 16)
			bad := map[int]netip.AddrPort{
				// Not an address at all; IPv6 from an IPv4 socket; port 0.
				0: {},
				3: netip.MustParseAddrPort("[2001:db8::1]:5004"),
				4: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0),
			}
			var want [][]byte
			for i := range 8 {
				p := ubPayload(i, 500)
				to, isBad := bad[i]
				if !isBad {
					to = ubAddr(rcv)
					want = append(want, p)
				}
				if err := b.add(p, to); err != nil {
					t.Fatal(err)
				}
			}
			sent, err := b.flush()
			if sent != len(want) || err == nil {
				t.Fatalf("flush = %d, %v; want %d and an error", sent, err, len(want))
			}
			t.Logf("first error: %v", err)
			ubExpect(t, rcv, want)
		})
	}
}

func TestUDPBatchSocketFamilies(t *testing.T) {
	v6 := ubHaveIPv6()
	v4rcv := ubListen(t, "udp", "127.0.0.1:0")
	var v6rcv *net.UDPConn
	if v6 {
		v6rcv = ubListen(t, "udp", "[::1]:0")
	}
	// Linux opens "udp" sockets on a wildcard address as AF_INET6 dual-stack sockets, even
	// when the address is written 0.0.0.0.
	dual := syscall.AF_INET
	if v6 {
		dual = syscall.AF_INET6
	}
	tests := []struct {
		network, addr string
		family        int
		needV6        bool
	}{
		{"udp", "127.0.0.1:0", syscall.AF_INET, false},
		{"udp4", "0.0.0.0:0", syscall.AF_INET, false},
		{"udp", "0.0.0.0:0", dual, false},
		{"udp", ":0", dual, false},
		{"udp6", "[::]:0", syscall.AF_INET6, true},
		{"udp6", "[::1]:0", syscall.AF_INET6, true},
	}
	for _, tt := range tests {
		t.Run(tt.network+"_"+tt.addr, func(t *testing.T) {
			if tt.needV6 && !v6 {
				t.Skip("no IPv6 loopback")
			}
			conn := ubListen(t, tt.network, tt.addr)
			b := newUDPBatch(conn, 8)
			if runtime.GOOS == "linux" {
				if !b.sys.active() {
					t.Fatal("sendmmsg path not active")
				}
				if got := b.sys.family(); got != tt.family {
					t.Fatalf("family %d, want %d", got, tt.family)
				}
			}
			canV6 := tt.family == syscall.AF_INET6 && v6
			var want4, want6 [][]byte
			for i := range 8 {
				p := ubPayload(i, 200+i)
				if i%2 == 1 && canV6 {
					want6 = append(want6, p)
					if err := b.add(p, ubAddr(v6rcv)); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want4 = append(want4, p)
				if err := b.add(p, ubAddr(v4rcv)); err != nil {
					t.Fatal(err)
				}
			}
			sent, err := b.flush()
			ubExpect(t, v6rcv, want6)
			if tt.network == "udp6" && tt.addr == "[::]:0" && err != nil && sent == len(want6) {
				// Sockets opened as "udp6" are IPv6-only, and the kernel refuses IPv4
				// destinations on them; what matters is that it refuses each one alone and
				// the IPv6 datagrams between them all arrived.
				t.Logf("IPv4 through an IPv6-only socket refused: %v", err)
				return
			}
			if tt.addr == "[::1]:0" {
				// A socket bound to ::1 cannot reach IPv4 at all; only the IPv6 half counts.
				if sent != len(want6) || err == nil {
					t.Fatalf("flush = %d, %v; want %d and an error", sent, err, len(want6))
				}
				return
			}
			if sent != len(want4)+len(want6) || err != nil {
				t.Fatalf("flush = %d, %v; want %d, nil", sent, err, len(want4)+len(want6))
			}
			ubExpect(t, v4rcv, want4)
		})
	}
}

func TestUDPBatchNoAllocs(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the zero-allocation path is sendmmsg on Linux")
	}
	conn := ubListen(t, "udp", "127.0.0.1:0")
	rcv := [4]*net.UDPConn{}
	for i := range rcv {
		rcv[i] = ubListen(t, "udp", "127.0.0.1:0")
	}
	const n = 32
	b := newUDPBatch(conn, n)
	p := ubPayload(1, 1172)
	var dsts [len(rcv)]netip.AddrPort
	for i := range rcv {
		dsts[i] = ubAddr(rcv[i])
	}
	var failed error
	allocs := testing.AllocsPerRun(100, func() {
		for i := range n {
			if err := b.add(p, dsts[i%len(dsts)]); err != nil {
				failed = err
			}
		}
		if sent, err := b.flush(); sent != n || err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per batch of %d", allocs, n)
	}
}

// BenchmarkUDPBatch compares sending 1172-byte datagrams (a full video RTP packet) to 4
// loopback receivers one write at a time and in sendmmsg batches of 32. One op is one datagram.
func BenchmarkUDPBatch(b *testing.B) {
	defer goleak.VerifyNone(b, goleak.IgnoreCurrent())
	const size, receivers, batch = 1172, 4, 32
	conn := ubListen(b, "udp", "127.0.0.1:0")
	_ = conn.SetWriteBuffer(4 << 20)
	var dsts [receivers]netip.AddrPort
	var rcv [receivers]*net.UDPConn
	var wg sync.WaitGroup
	for i := range rcv {
		rcv[i] = ubListen(b, "udp", "127.0.0.1:0")
		dsts[i] = ubAddr(rcv[i])
	}
	// Drain each receiver so the benchmark measures delivery, not drops at a full socket.
	// Closing the sockets ends the goroutines.
	for _, r := range rcv {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				if _, _, err := r.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		}()
	}
	defer func() {
		for _, r := range rcv {
			_ = r.Close()
		}
		wg.Wait()
	}()
	p := ubPayload(1, size)
	perDatagram := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/datagram")
	}

	b.Run("single", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(size)
		for i := 0; i < b.N; i++ {
			if _, err := conn.WriteToUDPAddrPort(p, dsts[i%receivers]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		perDatagram(b)
	})
	b.Run("batch32", func(b *testing.B) {
		ub := newUDPBatch(conn, batch)
		b.ReportAllocs()
		b.SetBytes(size)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := ub.add(p, dsts[i%receivers]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := ub.flush(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		perDatagram(b)
	})
}
