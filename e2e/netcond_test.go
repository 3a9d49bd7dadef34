package e2e

import (
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/scenario"
)

// The network-condition suite: the SFU in process, publisher and subscribers on a pion
// vnet, a token bucket on the constrained subscriber's downlink. Each test runs a scenario
// of the catalog (shorter than the runner's full length) and asserts what the SFU did, from
// what the subscribers received and the stream states they were sent; it never asserts
// how fast (the runner reports that: `sfu scenario NAME`).

// TestDropRestore: bob's link drops from 3 Mbit/s to 400 kbit/s and comes back. bob moves
// to q and his loss settles; he climbs back to f; carol, unconstrained, keeps f; alice
// keeps sending her top layer as before.
func TestDropRestore(t *testing.T) {
	const pre, low, post = 10 * time.Second, 10 * time.Second, 12 * time.Second
	res := runScenario(t, scenario.DropRestore(pre, low, post))
	cam := scenario.CameraOf("alice")
	drop, restore, end := pre.Seconds(), (pre + low).Seconds(), (pre + low + post).Seconds()

	// Before the drop bob has reached f (else the drop shows nothing).
	if !anyLayer(res.SamplesBetween(0, drop), "bob", cam, "f") {
		t.Fatalf("bob never got f before the drop:%s", layersOf(res.SamplesBetween(0, drop), "bob", cam))
	}

	// After the drop: q, and loss settles. The second half of the low phase is the
	// settled part.
	settled := res.SamplesBetween(drop+low.Seconds()/2, restore)
	for _, s := range settled {
		b := track(sub(t, s, "bob"), cam)
		if b.Layer != "q" || b.State != "active" || b.TargetRID != "q" {
			t.Fatalf("bob at t=%.1f: delivered %q, state %q, target %q; want q, active, q:%s", s.T, b.Layer, b.State,
				b.TargetRID, layersOf(res.SamplesBetween(drop, restore), "bob", cam))
		}
	}
	if loss := lossOver(settled, "bob"); loss > 2 {
		t.Errorf("bob's loss did not settle at 400 kbit/s: %.1f%% over the second half of the drop", loss)
	}

	// After the restore: back to f, and staying there at the end.
	after := res.SamplesBetween(restore, end)
	if !anyLayer(after, "bob", cam, "f") {
		t.Fatalf("bob never got back to f after the restore:%s", layersOf(after, "bob", cam))
	}
	if last := track(sub(t, after[len(after)-1], "bob"), cam); last.Layer != "f" {
		t.Errorf("bob ended on %q, want f:%s", last.Layer, layersOf(after, "bob", cam))
	}

	// carol keeps f throughout bob's drop and restore.
	for _, s := range res.SamplesBetween(drop, end) {
		if c := track(sub(t, s, "carol"), cam); c.Layer != "f" {
			t.Fatalf("carol lost f at t=%.1f (delivered %q, state %q, target %q):%s", s.T, c.Layer, c.State, c.TargetRID,
				layersOf(res.Samples, "carol", cam))
		}
	}

	// alice keeps sending as before, whatever bob's link does: her top layer, which carol
	// receives, is never paused (the others may be, by dynacast), and no layer she sends
	// runs much below its rate.
	var prev *scenario.PublisherSample
	for _, s := range res.SamplesBetween(drop, end) {
		p := s.Publisher("alice")
		if p == nil || len(p.Layers) != 3 {
			t.Fatalf("t=%.1f: no publisher sample for alice", s.T)
		}
		if !p.Layers[2].Active {
			t.Errorf("t=%.1f: alice's f layer was paused", s.T)
		}
		for i, l := range p.Layers {
			// A layer dynacast resumed within the sample ran for part of it only.
			steady := l.Active && prev != nil && prev.Layers[i].Active
			if steady && (l.Frames < 12 || l.Bps < scenario.LayerBitrates[i]*6/10) {
				t.Errorf("t=%.1f: alice's %s layer sent %d frames, %d bit/s: the publisher was affected", s.T, l.RID, l.Frames, l.Bps)
			}
		}
		prev = p
	}
	if n := res.Publisher("alice").NACKedPackets; n != 0 {
		t.Errorf("alice was asked to resend %d packets on a clean link", n)
	}
	checkFrames(t, res)
}

// TestTwoTracksPriority: dave receives alice (pinned) and bob. At 1 Mbit/s alice's camera
// gets the better layer; at 200 kbit/s bob's is paused for bandwidth while alice's audio
// keeps flowing.
func TestTwoTracksPriority(t *testing.T) {
	const high, low = 10 * time.Second, 10 * time.Second
	res := runScenario(t, scenario.TwoTracks(high, low))
	ac, bc, mic := scenario.CameraOf("alice"), scenario.CameraOf("bob"), scenario.MicrophoneOf("alice")
	drop, end := high.Seconds(), (high + low).Seconds()

	// At 1 Mbit/s, once settled: alice never below bob, and mostly above.
	var both, better int
	for _, s := range res.SamplesBetween(4, drop) {
		d := sub(t, s, "dave")
		a, b := track(d, ac), track(d, bc)
		if a.Layer == "" || b.Layer == "" {
			continue
		}
		both++
		al, bl := layerRank(a.Layer), layerRank(b.Layer)
		if al < bl {
			t.Errorf("t=%.1f: pinned alice got %s, bob %s", s.T, a.Layer, b.Layer)
		}
		if al > bl {
			better++
		}
	}
	if both == 0 || better*3 < both*2 {
		t.Errorf("at 1 Mbit/s alice had the better layer in %d of %d samples:\n alice%s\n bob%s", better, both,
			layersOf(res.SamplesBetween(0, drop), "dave", ac), layersOf(res.SamplesBetween(0, drop), "dave", bc))
	}

	// At 200 kbit/s, once settled: bob paused for bandwidth, no frames of his; alice's
	// audio in every sample.
	settled := res.SamplesBetween(drop+low.Seconds()/2, end)
	var audioBps int
	for _, s := range settled {
		d := sub(t, s, "dave")
		b, m := track(d, bc), track(d, mic)
		if b.State != "paused_bandwidth" || b.Frames != 0 {
			t.Errorf("t=%.1f: bob's camera %q with %d frames, want paused_bandwidth and none:%s", s.T, b.State, b.Frames,
				layersOf(res.SamplesBetween(drop, end), "dave", bc))
		}
		if m.DeliveredBps == 0 {
			t.Errorf("t=%.1f: no audio from alice: it must keep flowing", s.T)
		}
		audioBps += m.DeliveredBps
	}
	if len(settled) > 0 && audioBps/len(settled) < 30_000 {
		t.Errorf("alice's audio averaged %d bit/s at 200 kbit/s: it must keep flowing", audioBps/len(settled))
	}
	if bt := res.Subscriber("dave").Track(bc); bt == nil || len(bt.States) == 0 {
		t.Error("dave was never told the state of bob's camera")
	}
	var aliceVideo int
	for _, s := range settled {
		if track(sub(t, s, "dave"), ac).Frames > 0 {
			aliceVideo++
		}
	}
	t.Logf("at 200 kbit/s pinned alice's camera delivered frames in %d of %d settled samples:%s", aliceVideo, len(settled),
		layersOf(settled, "dave", ac))
	checkFrames(t, res)
}

// TestLayerSwitchesUnderLoss: bob's link loses 3% of packets while he asks for q, h and
// f in turn and then his link drops to 400 kbit/s. Every packet forwarded keeps sequence
// numbers, timestamps and VP8 picture ids (and TL0PICIDX) continuous across the switches,
// in both directions, and every frame that completes verifies.
func TestLayerSwitchesUnderLoss(t *testing.T) {
	res := runScenario(t, scenario.LossySwitch(4*time.Second, 3))
	tr := res.Subscriber("bob").Track(scenario.CameraOf("alice"))
	if tr == nil || tr.Continuity == nil {
		t.Fatal("bob received no camera")
	}
	c := tr.Continuity
	t.Logf("bob's camera: %d packets, %d frames, %d missing after repair (longest run %d), %d switches up, %d down, %d frames cut at a switch",
		c.Packets, c.Frames, c.Missing, c.MaxGap, c.SwitchesUp, c.SwitchesDown, c.CutFrames)
	if c.SwitchesUp < 2 || c.SwitchesDown < 2 {
		t.Errorf("only %d switches up and %d down: the scenario should switch both ways at least twice", c.SwitchesUp, c.SwitchesDown)
	}
	if tr.Holes == 0 {
		t.Error("nothing was lost: the loss filter did not work")
	}
	if c.Packets < 1000 {
		t.Errorf("only %d packets checked", c.Packets)
	}
	checkFrames(t, res)
}

func anyLayer(samples []scenario.Sample, subscriber, trk, layer string) bool {
	for _, s := range samples {
		if ss := s.Subscriber(subscriber); ss != nil && track(ss, trk).Layer == layer {
			return true
		}
	}
	return false
}

// layerRank orders delivered layers: none < q < h < f.
func layerRank(l string) int {
	switch l {
	case "q":
		return 1
	case "h":
		return 2
	case "f":
		return 3
	}
	return 0
}
