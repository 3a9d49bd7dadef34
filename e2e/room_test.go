package e2e

import (
	"io"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/transport/v4/vnet"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/node"
)

// TestRoomOverLoopback is the single-node SFU end to end over real loopback UDP: three
// participants publish Opus and VP8 and each receives the other two intact and without
// gaps; a fourth joins late and receives everyone; one leaves and the others see it and its
// tracks go.
func TestRoomOverLoopback(t *testing.T) {
	noLeaks(t)
	n := startE2ENode(t, nil)
	const room = "loopback"
	names := []string{"alice", "bob", "carol"}
	peers := map[string]*peer{}
	sources := map[string]*avSource{}
	for _, name := range names {
		peers[name] = joinPeer(t, n, room, name)
	}
	for _, name := range names {
		sources[name] = peers[name].publishAV(127)
	}
	others := func(me string) []string {
		return slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == me })
	}
	for _, name := range names {
		p := peers[name]
		eventually(t, name+" receiving the other two", 20*time.Second,
			func() bool { return p.receiving(30, 50, others(name)...) }, p.describe)
	}

	dave := joinPeer(t, n, room, "dave")
	eventually(t, "dave receiving everyone", 20*time.Second,
		func() bool { return dave.receiving(30, 50, names...) }, dave.describe)

	// carol leaves: everyone else is told, her tracks are unpublished and end.
	carolTracks := []string{sources["carol"].vt.SID(), sources["carol"].at.SID()}
	sources["carol"].stop()
	if err := peers["carol"].c.Leave(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*peer{peers["alice"], peers["bob"], dave} {
		eventually(t, p.name+" seeing carol leave", 10*time.Second, func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			if !p.left["carol"] {
				return false
			}
			for _, sid := range carolTracks {
				if !p.unpublished[sid] || p.streams[sid] == nil || !p.streams[sid].ended {
					return false
				}
			}
			return true
		}, p.describe)
		if p.c.Participant(peers["carol"].c.SID()) != nil {
			t.Fatalf("%s still lists carol", p.name)
		}
	}
	eventually(t, "the SFU dropping carol", 5*time.Second, func() bool {
		r := n.SFU().Room(room)
		return r != nil && len(r.Participants()) == 3
	})

	// Stop the sources and let the last packets land; then nothing may be missing or bent.
	for _, name := range []string{"alice", "bob"} {
		sources[name].stop()
	}
	for _, p := range []*peer{peers["alice"], peers["bob"], dave} {
		eventually(t, p.name+" streams complete", 5*time.Second, func() bool {
			for _, s := range p.byPublisher("") {
				if s.corrupt > 0 {
					t.Fatalf("%s got corrupt payloads: %s", p.name, p.describe())
				}
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, s := range p.streams {
				if s.gaps() != 0 {
					return false
				}
			}
			return true
		}, p.describe)
	}
}

// TestLossRepairedFromTheSFURing loses 5% of what the SFU sends one subscriber (a pion vnet
// loss filter on that subscriber's interface). The subscriber's NACKs are answered from the
// SFU's ring, so every packet arrives and every frame verifies; the publisher's link is
// clean and it is never asked to resend.
func TestLossRepairedFromTheSFURing(t *testing.T) {
	noLeaks(t)
	lf := logging.NewDefaultLoggerFactory()
	lf.Writer = io.Discard
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "198.51.100.0/24", LoggerFactory: lf})
	if err != nil {
		t.Fatal(err)
	}
	host := func(ip string) *vnet.Net {
		nw, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		return nw
	}
	sfuNet, pubNet, subNet, cleanNet := host("198.51.100.10"), host("198.51.100.11"), host("198.51.100.12"), host("198.51.100.13")
	lossy, err := vnet.NewLossFilter(subNet, 5, vnet.WithLossSeed(42))
	if err != nil {
		t.Fatal(err)
	}
	for _, nic := range []vnet.NIC{sfuNet, pubNet, lossy, cleanNet} {
		if err := wan.AddNet(nic); err != nil {
			t.Fatal(err)
		}
	}
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wan.Stop() })

	n := startE2ENode(t, func(c *node.Config) {
		c.IncludeLoopback = false
		c.RTCBind = "198.51.100.10"
		c.RTCPort = 7702
		c.Net = sfuNet
	})
	pub := joinPeer(t, n, "lossy", "pub", client.WithNet(pubNet))
	sub := joinPeer(t, n, "lossy", "sub", client.WithNet(subNet))
	clean := joinPeer(t, n, "lossy", "clean", client.WithNet(cleanNet))
	src := pub.publishAV(127)
	eventually(t, "sub receiving", 20*time.Second, func() bool { return sub.receiving(150, 300, "pub") }, sub.describe)
	eventually(t, "clean receiving", 20*time.Second, func() bool { return clean.receiving(150, 300, "pub") }, clean.describe)
	src.stop()

	// Video is repaired by retransmission; audio, as in browsers, is not NACKed (Opus
	// conceals and corrects loss itself), so only its payloads are checked.
	eventually(t, "sub's video gaps repaired", 10*time.Second, func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		for _, s := range sub.streams {
			if s.corrupt != 0 || s.kind == webrtc.RTPCodecTypeVideo && s.gaps() != 0 {
				return false
			}
		}
		return true
	}, sub.describe)

	var retransmits, toClean uint64
	for _, p := range n.SFU().Room("lossy").Participants() {
		for _, st := range p.DownTrackStats() {
			if p.Identity() == "sub" {
				retransmits += st.Retransmits
			} else if p.Identity() == "clean" {
				toClean += st.Retransmits
			}
		}
	}
	if retransmits == 0 {
		t.Fatal("the SFU resent nothing to the lossy subscriber")
	}
	if nacked := src.vt.Stats().NACKedPackets + src.at.Stats().NACKedPackets; nacked != 0 {
		t.Fatalf("the publisher was asked to resend %d packets; the SFU's ring should have answered", nacked)
	}
	t.Logf("SFU retransmitted %d packets to the lossy subscriber, %d to the clean one", retransmits, toClean)
}

// TestJoinToFirstVideoFrame measures, over ten joins, the time from a subscriber's
// WebSocket opening to its first complete remote video frame. The figure is reported, not
// asserted: it depends on the machine.
func TestJoinToFirstVideoFrame(t *testing.T) {
	noLeaks(t)
	n := startE2ENode(t, nil)
	pub := joinPeer(t, n, "timing", "publisher")
	pub.publishAV(127)
	var samples []time.Duration
	for i := 0; i < 10; i++ {
		p := joinPeer(t, n, "timing", "viewer")
		eventually(t, "a video frame", 10*time.Second, func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return !p.firstVideo.IsZero()
		}, p.describe)
		p.mu.Lock()
		d := p.firstVideo.Sub(p.c.Timings().WebSocketOpen)
		p.mu.Unlock()
		samples = append(samples, d)
		_ = p.c.Leave()
		<-p.c.Done()
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	t.Logf("WebSocket open to first remote video frame over %d joins: median %v, min %v, max %v",
		len(samples), (samples[4]+samples[5])/2, samples[0], samples[len(samples)-1])
}
