package client_test

import (
	"context"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/internal/testnode"
	"github.com/cascade-sfu/cascade/node"
)

// vnetPrefix is the virtual network's /24: TEST-NET-2 (RFC 5737), which no real network routes.
const vnetPrefix = "198.51.100."

// lossyNet is a pion vnet where the SFU is .10 and clients get .11, .12, ...; a filter on
// the router drops a share of RTP packets (never STUN, DTLS, SCTP or RTCP, so only media
// recovery is exercised).
type lossyNet struct {
	router  *vnet.Router
	server  *vnet.Net
	next    int
	dropped atomic.Int64
	rtp     atomic.Int64
}

func newLossyNet(t *testing.T, lossPercent int) *lossyNet {
	t.Helper()
	lf := &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled, ScopeLevels: map[string]logging.LogLevel{}}
	r, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: vnetPrefix + "0/24", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	ln := &lossyNet{router: r, next: 10}
	var mu sync.Mutex // guards rng: the router may filter from more than one goroutine
	rng := rand.New(rand.NewPCG(7, 11))
	r.AddChunkFilter(func(c vnet.Chunk) bool {
		b := c.UserData()
		// RTP, not RTCP (RFC 5761 section 4: RTCP packet types 192..223 share the port).
		if c.Network() != "udp" || len(b) < 12 || b[0]>>6 != 2 || (b[1] >= 192 && b[1] <= 223) {
			return true
		}
		ln.rtp.Add(1)
		mu.Lock()
		drop := rng.IntN(100) < lossPercent
		mu.Unlock()
		if drop {
			ln.dropped.Add(1)
		}
		return !drop
	})
	ln.server = ln.addHost(t)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return ln
}

func (l *lossyNet) addHost(t *testing.T) *vnet.Net {
	t.Helper()
	ip := vnetPrefix + strconv.Itoa(l.next)
	l.next++
	n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.router.AddNet(n); err != nil {
		t.Fatal(err)
	}
	return n
}

// startVnetSFU runs a node whose media is on the virtual network (the signaling WebSocket
// stays on real loopback). It returns the signaling URL.
func startVnetSFU(t *testing.T, ln *lossyNet) string {
	t.Helper()
	n, err := node.New(node.Config{Bind: "127.0.0.1", RTCBind: vnetPrefix + "10", RTCPort: 7702, Net: ln.server,
		Keys: auth.Keys{testnode.Key: testnode.Secret}}, testLogger().With("side", "sfu"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return url(n)
}

// TestMediaOverLossyNetwork: with 3% of RTP lost on every hop, NACKs (client responder toward
// the SFU, client generator from the SFU) repair the stream: frames still verify byte for
// byte, and almost all complete.
func TestMediaOverLossyNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("network simulation")
	}
	ln := newLossyNet(t, 3)
	url := startVnetSFU(t, ln)
	joinV := func(identity string) *client.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Join(ctx, url, mint(t, "lossy", identity),
			client.WithNet(ln.addHost(t)), client.WithLogger(testLogger().With("side", identity)))
		if err != nil {
			t.Fatalf("%s: %v", identity, err)
		}
		t.Cleanup(func() { _ = c.Leave() })
		return c
	}
	alice, bob := joinV("alice"), joinV("bob")
	rb := newReceiver(bob)
	m := publishAV(t, alice, 127)

	waitFor(t, bob, "90 verified frames over the lossy network", func() bool {
		v, _ := rb.counts(m.vt.SID())
		return v >= 90
	})
	if n := rb.corrupt.Load(); n > 0 {
		t.Fatalf("%d corrupt frames or packets: %v", n, rb.errs[:min(len(rb.errs), 5)])
	}
	if ln.dropped.Load() == 0 {
		t.Fatal("the network dropped nothing")
	}
	st := m.vt.Stats()
	if st.NACKedPackets == 0 {
		t.Errorf("the SFU NACKed nothing from alice although %d of %d RTP packets were dropped", ln.dropped.Load(), ln.rtp.Load())
	}
	sent := m.video.Stats().Frames
	got, _ := rb.counts(m.vt.SID())
	t.Logf("dropped %d of %d RTP packets; alice sent %d frames, bob verified %d; SFU NACKed %d packets, sent %d PLIs",
		ln.dropped.Load(), ln.rtp.Load(), sent, got, st.NACKedPackets, st.PLIs)
}
