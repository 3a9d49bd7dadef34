package loadtest

import (
	"net"
	"testing"
	"time"

	"github.com/pion/transport/v4/stdnet"
)

// impairedPair is a sender and an impaired receiver on loopback.
func impairedPair(t *testing.T, cfg Impairment) (send *net.UDPConn, recv *impairedConn) {
	t.Helper()
	base, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	n := newClientNet(base, cfg)
	rc, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	recv = rc.(*impairedConn)
	send, err = net.DialUDP("udp4", nil, recv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = send.Close(); _ = recv.Close() })
	return send, recv
}

// receive reads in the background until the socket closes, counting datagrams by kind.
func receive(c *impairedConn) <-chan [2]int {
	out := make(chan [2]int, 1)
	go func() {
		buf := make([]byte, 2000)
		var media, other int
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				out <- [2]int{media, other}
				return
			}
			if isMedia(buf[:n]) {
				media++
			} else {
				other++
			}
		}
	}()
	return out
}

func TestImpairmentLoss(t *testing.T) {
	send, recv := impairedPair(t, Impairment{LossPercent: 30})
	got := receive(recv)
	rtp, stun := make([]byte, 200), make([]byte, 60)
	rtp[0], stun[0] = 0x80, 0x00
	for i := 0; i < 1000; i++ {
		_, _ = send.Write(rtp)
		if i%10 == 0 {
			_, _ = send.Write(stun)
		}
		if i%50 == 49 {
			time.Sleep(time.Millisecond) // let the reader keep up: the socket must not overflow
		}
	}
	time.Sleep(50 * time.Millisecond)
	_ = recv.Close()
	n := <-got
	if n[0] < 620 || n[0] > 780 {
		t.Errorf("%d of 1000 RTP packets arrived at 30%% loss", n[0])
	}
	if n[1] != 100 {
		t.Errorf("%d of 100 STUN packets arrived; loss must spare them", n[1])
	}
}

func TestImpairmentBandwidth(t *testing.T) {
	const rate = 800_000 // bit/s: one 1000-byte packet per 10 ms
	send, recv := impairedPair(t, Impairment{BandwidthBps: rate})
	got := receive(recv)
	pkt := make([]byte, 1000)
	pkt[0] = 0x80
	// 0.4 s at twice the cap; then 0.2 s for the queue to drain.
	for i := 0; i < 80; i++ {
		_, _ = send.Write(pkt)
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	_ = recv.Close()
	n := (<-got)[0]
	// What the cap lets through in about 0.6 s, far fewer than the 80 sent.
	if n < 45 || n > 70 {
		t.Errorf("%d of 80 packets crossed an 800 kbit/s cap", n)
	}
}
