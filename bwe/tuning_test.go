package bwe

import (
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/simulcast"
)

// Tests for what the network-condition scenarios (package scenario) showed the estimator,
// prober and allocator getting wrong: an SFU's traffic is application-limited (a few fixed
// layer bitrates), unpaced (a keyframe goes out at once) and probed with padding.

// videoSim sends what an SFU sends one subscriber: frames of mediaBps at 30 fps, every
// keyEvery a keyframe keyFactor times larger, each frame's packets back to back; padding
// on top while the prober asks for more than the media (desired is what the allocation
// would take). Feedback goes back every 100 ms. It returns the estimate every 100 ms.
type videoSim struct {
	mediaBps, desired int
	keyEvery          time.Duration
	keyFactor         int
	capacity          func(time.Duration) float64
	// media, when set, replaces mediaBps over time (the forwarding stepping layers).
	media func(at time.Duration, estimate int) int
	// stallAt, when set, holds every arrival in [stallAt, stallAt+stallFor) until its end,
	// as a receiver that stopped reading for a moment does.
	stallAt, stallFor time.Duration
}

func (v videoSim) run(e *Estimator, l *link, d time.Duration) []int {
	start := time.Unix(1000, 0)
	var (
		prober   Prober
		pending  []PacketResult
		samples  []int
		nextFb   = start.Add(100 * time.Millisecond)
		nextSmp  = start
		lastKey  = start
		nextPad  = start
		frameGap = time.Second / 30
	)
	send := func(at time.Time, size int, probe bool) {
		arr, ok := l.send(at, size)
		if ok && v.stallFor > 0 {
			if s := start.Add(v.stallAt); !arr.Before(s) && arr.Before(s.Add(v.stallFor)) {
				arr = s.Add(v.stallFor)
			}
		}
		pending = append(pending, PacketResult{SendTime: at, Size: size, Received: ok, Arrival: arr, Probe: probe})
	}
	for now := start; now.Before(start.Add(d)); now = now.Add(time.Millisecond) {
		if v.capacity != nil {
			l.bps = v.capacity(now.Sub(start))
		}
		media := v.mediaBps
		if v.media != nil {
			media = v.media(now.Sub(start), e.Estimate())
		}
		probeRate := prober.Update(now, e.Estimate(), v.desired, e.Signal())
		probing := probeRate > media
		if now.Sub(start)%frameGap < time.Millisecond {
			size := media / 8 / 30
			if v.keyEvery > 0 && now.Sub(lastKey) >= v.keyEvery {
				size *= v.keyFactor
				lastKey = now
			}
			for i := 0; size > 0; i++ {
				n := min(size, 1200)
				send(now.Add(time.Duration(i)*20*time.Microsecond), n, probing)
				size -= n
			}
		}
		if probing && !now.Before(nextPad) {
			// Padding every 5 ms, in 275-byte packets, to make up the probe rate.
			for b := float64(probeRate-media) / 8 * 0.005; b >= 275; b -= 275 {
				send(now, 275, true)
			}
			nextPad = now.Add(5 * time.Millisecond)
		}
		if !now.Before(nextFb) {
			pending = deliverFeedback(e, now, pending)
			nextFb = now.Add(100 * time.Millisecond)
		}
		if !now.Before(nextSmp) {
			samples = append(samples, e.Estimate())
			nextSmp = nextSmp.Add(100 * time.Millisecond)
		}
	}
	return samples
}

// An application-limited sender (q and audio, about 200 kbit/s) on a 400 kbit/s link,
// wanting far more: probes find the link, and the estimate settles near its capacity, not
// near what the media happens to use.
func TestEstimateNearCapacityWhileAppLimited(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 300_000})
	l := &link{bps: 400_000, maxQueue: 200 * time.Millisecond, delay: 20 * time.Millisecond}
	s := videoSim{mediaBps: 200_000, desired: 2_000_000, keyEvery: 3 * time.Second, keyFactor: 5}.run(e, l, 20*time.Second)
	assertNear(t, s[100:], 400_000, 0.2)
}

// Keyframes five times a frame's size, unpaced, through a 3 Mbit/s bottleneck carrying
// 1.8 Mbit/s: each queues for a moment behind itself. That is not congestion, and the
// estimate must not fall under what the top layer needs.
func TestKeyframeBurstsAreNotCongestion(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 2_600_000})
	l := &link{bps: 3_000_000, maxQueue: 200 * time.Millisecond, delay: 20 * time.Millisecond}
	s := videoSim{mediaBps: 1_800_000, desired: 2_000_000, keyEvery: time.Second, keyFactor: 5}.run(e, l, 15*time.Second)
	for i, v := range s[20:] {
		if v < 2_000_000 {
			t.Fatalf("estimate fell to %d at %.1f s: %v", v, float64(i+20)/10, s)
		}
	}
}

// A receiver that stops reading for 150 ms and then reads a burst: the delay jumps and
// falls back, the queue never grew. The estimate holds.
func TestReceiverStallIsNotCongestion(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 2_600_000})
	l := &link{bps: 10_000_000, maxQueue: 200 * time.Millisecond, delay: 20 * time.Millisecond}
	s := videoSim{mediaBps: 1_800_000, desired: 2_000_000, stallAt: 5 * time.Second, stallFor: 150 * time.Millisecond}.run(e, l, 8*time.Second)
	for i, v := range s[40:] {
		if v < 2_000_000 {
			t.Fatalf("estimate fell to %d at %.1f s after a receiver stall: %v", v, float64(i+40)/10, s[40:])
		}
	}
}

// The link drops from 3 Mbit/s to 400 kbit/s under a 1.8 Mbit/s sender: the cut goes to
// what arrives now, not to an average still full of the old rate.
func TestCutFollowsWhatArrivesNow(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 2_600_000})
	l := &link{bps: 3_000_000, maxQueue: 200 * time.Millisecond, delay: 20 * time.Millisecond}
	capacity := func(at time.Duration) float64 {
		if at >= 5*time.Second {
			return 400_000
		}
		return 3_000_000
	}
	s := videoSim{mediaBps: 1_800_000, desired: 2_000_000, capacity: capacity}.run(e, l, 7*time.Second)
	if first := firstBelow(s[50:], 500_000); first < 0 || first > 8 {
		t.Fatalf("estimate took %d samples to fall under 500k: %v", first, s[50:])
	}
}

// The same drop, with the forwarding stepping down to what the estimate allows half a
// second later (a switch waits for a keyframe): the tail of the old rate is lost in the
// full queue, and that loss must not cut the estimate again under the link, to the lowest
// layer's rate and below.
func TestStaleLossDoesNotCutAgain(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 2_600_000})
	l := &link{bps: 3_000_000, maxQueue: 200 * time.Millisecond, delay: 20 * time.Millisecond}
	capacity := func(at time.Duration) float64 {
		if at >= 5*time.Second {
			return 400_000
		}
		return 3_000_000
	}
	var switchAt time.Duration
	media := func(at time.Duration, est int) int {
		if est < 1_000_000 && switchAt == 0 {
			switchAt = at
		}
		if switchAt > 0 && at >= switchAt+500*time.Millisecond {
			return 190_000 // q and audio
		}
		return 1_800_000
	}
	s := videoSim{desired: 2_000_000, capacity: capacity, media: media, keyEvery: 3 * time.Second, keyFactor: 5}.run(e, l, 12*time.Second)
	for i, v := range s[70:] {
		if v < 260_000 {
			t.Fatalf("estimate fell to %d at %.1f s, under the 400 kbit/s link's reach: %v", v, float64(i+70)/10, s[50:])
		}
	}
	assertNear(t, s[80:], 400_000, 0.25)
}

// A token bucket lets its burst through at once; over a short cluster that reads as far
// more than the link carries. The cluster's rate ignores the burst.
func TestProbeClusterIgnoresBucketBurst(t *testing.T) {
	var c probeCluster
	t0 := time.Unix(0, 0)
	// Sent at 800 kbit/s for 250 ms in 275-byte packets; the first 3000 bytes arrive at
	// once, the rest at 400 kbit/s.
	gapSend := time.Duration(275 * 8 * float64(time.Second) / 800_000)
	gapRecv := time.Duration(275 * 8 * float64(time.Second) / 400_000)
	arr := t0
	for i := 0; i < 90; i++ {
		if i >= 11 {
			arr = arr.Add(gapRecv)
		}
		c.add(PacketResult{SendTime: t0.Add(time.Duration(i) * gapSend), Size: 275, Received: true, Arrival: arr, Probe: true})
	}
	if r := c.rate(); r < 360_000 || r > 440_000 {
		t.Fatalf("cluster rate %.0f, want about 400k", r)
	}
	// An unsaturated link: the send rate.
	c.reset()
	for i := 0; i < 90; i++ {
		at := t0.Add(time.Duration(i) * gapSend)
		c.add(PacketResult{SendTime: at, Size: 275, Received: true, Arrival: at.Add(30 * time.Millisecond), Probe: true})
	}
	if r := c.rate(); r < 760_000 || r > 840_000 {
		t.Fatalf("cluster rate %.0f, want about 800k", r)
	}
	// Too little of it yet.
	c.reset()
	for i := 0; i < 10; i++ {
		c.add(PacketResult{SendTime: t0.Add(time.Duration(i) * gapSend), Size: 275, Received: true, Arrival: t0.Add(time.Duration(i) * gapRecv), Probe: true})
	}
	if r := c.rate(); r != 0 {
		t.Fatalf("a 25 ms cluster proved %.0f", r)
	}
}

// Losses of packets sent before the estimate came down do not cut it again.
func TestLossCountsFromTheLastCut(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 1_000_000})
	t0 := time.Unix(0, 0)
	e.cut(t0.Add(time.Second))
	var old []PacketResult
	for i := 0; i < 200; i++ {
		// Half lost, all sent before the cut.
		at := t0.Add(time.Duration(i) * time.Millisecond)
		old = append(old, PacketResult{SendTime: at, Size: 1000, Received: i%2 == 0, Arrival: at.Add(20 * time.Millisecond)})
	}
	e.OnFeedback(t0.Add(1100*time.Millisecond), old)
	e.OnFeedback(t0.Add(2200*time.Millisecond), old[:1])
	if e.lossBps < 1_000_000 {
		t.Fatalf("stale losses cut the loss-based estimate to %.0f", e.lossBps)
	}
}

func TestProberSmallGainAndFollowUp(t *testing.T) {
	var p Prober
	t0 := time.Unix(0, 0)
	// Within 10% of the desired rate: not at once, but within a couple of seconds.
	if r := p.Update(t0, 2_000_000, 2_100_000, SignalNormal); r != 0 {
		t.Fatal("probed at once for a small gain")
	}
	r := p.Update(t0.Add(probeSmallGainEvery), 2_000_000, 2_100_000, SignalNormal)
	if r <= 2_100_000 {
		t.Fatalf("small-gain probe at %d, want above the desired rate", r)
	}
	// It proved about its whole rate: the next one follows soon and goes further.
	end := t0.Add(probeSmallGainEvery + probeDuration)
	if p.Update(end, r, 10_000_000, SignalNormal) != 0 {
		t.Fatal("probe did not end")
	}
	if p.Update(end.Add(probeJudgeDelay), r, 10_000_000, SignalNormal) != 0 {
		t.Fatal("probed again before the first one's result was in")
	}
	next := p.Update(end.Add(probeJudgeDelay+probeFollowUp), r, 10_000_000, SignalNormal)
	if next < int(2.5*float64(r)) {
		t.Fatalf("follow-up probe at %d after one that proved %d", next, r)
	}
	// Nothing to gain: no probe.
	var q Prober
	if q.Update(t0.Add(time.Hour), 2_000_000, 1_900_000, SignalNormal) != 0 {
		t.Fatal("probed with the estimate above the desired rate")
	}
}

func TestAllocatePriorityHolds(t *testing.T) {
	cam := func(id string, prio int, q int) Track {
		return Track{ID: id, Class: ClassDefault, Priority: prio, LayerBps: layers(q, 500_000, 1_700_000), MaxLayer: 2}
	}
	audio := Track{ID: "mic", Audio: true, LayerBps: layers(40_000, 0, 0)}
	tests := []struct {
		name     string
		estimate int
		tracks   []Track
		want     map[string]int8
	}{
		// The higher priority's q measured a little dearer (a keyframe in the window) than
		// the lower one's: neither fits, and the lower one does not take the room.
		{"no swap on noise", 170_000, []Track{audio, cam("high", 5, 140_000), cam("low", 0, 120_000)},
			map[string]int8{"high": simulcast.NoLayer, "low": simulcast.NoLayer}},
		// Much cheaper: it may.
		{"much cheaper fits", 170_000, []Track{audio, cam("high", 5, 140_000), cam("low", 0, 60_000)},
			map[string]int8{"high": simulcast.NoLayer, "low": 0}},
		// The higher priority stops at h; the lower may not pass it.
		{"ceiling", 1_200_000, []Track{audio, cam("high", 5, 150_000), {ID: "low", LayerBps: layers(150_000, 200_000, 300_000), MaxLayer: 2}},
			map[string]int8{"high": 1, "low": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, a := range Allocate(tc.estimate, tc.tracks) {
				if want, ok := tc.want[a.ID]; ok && a.Layer != want {
					t.Fatalf("%s got layer %d, want %d: %+v", a.ID, a.Layer, want, a)
				}
			}
		})
	}
}

// A track keeps the layer it has while it fits the whole estimate; stepping up to it needs
// the headroom.
func TestAllocateKeepsCurrentLayer(t *testing.T) {
	tr := Track{ID: "cam", LayerBps: layers(150_000, 500_000, 1_700_000), MaxLayer: 2}
	const est = 1_800_000 // f fits the estimate, not the estimate less headroom
	if a := Allocate(est, []Track{tr}); a[0].Layer != 1 {
		t.Fatalf("stepping up: layer %d, want h", a[0].Layer)
	}
	tr.Current = 2
	if a := Allocate(est, []Track{tr}); a[0].Layer != 2 {
		t.Fatalf("keeping f: layer %d", a[0].Layer)
	}
	if a := Allocate(1_600_000, []Track{tr}); a[0].Layer != 1 {
		t.Fatalf("f no longer fits: layer %d, want h", a[0].Layer)
	}
}

// A track paused for bandwidth resumes only when its lowest layer fits with the headroom
// left; one that is running keeps it on the whole estimate.
func TestAllocateResumesWithHeadroom(t *testing.T) {
	audio := Track{ID: "mic", Audio: true, LayerBps: layers(40_000, 0, 0)}
	cam := Track{ID: "cam", LayerBps: layers(150_000, 500_000, 1_700_000), MaxLayer: 2}
	const est = 200_000 // 190k needed: fits, but not with a tenth of the estimate spare
	if a := Allocate(est, []Track{audio, cam}); a[1].Layer != 0 {
		t.Fatalf("running track: %+v, want it kept at q", a[1])
	}
	cam.Paused = true
	if a := Allocate(est, []Track{audio, cam}); a[1].Layer != simulcast.NoLayer || a[1].State != StatePausedBandwidth {
		t.Fatalf("paused track on an estimate it only just fits: %+v, want it kept paused", a[1])
	}
	if a := Allocate(220_000, []Track{audio, cam}); a[1].Layer != 0 {
		t.Fatalf("paused track with headroom: %+v, want it resumed at q", a[1])
	}
}

// A subscriber whose video is paused gets nothing but probes: each cluster still counts
// once the next one's packets show it complete.
func TestProbesAloneRaiseTheEstimate(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 300_000})
	t0 := time.Unix(1000, 0)
	const size = 1200
	gap := time.Duration(float64(size*8) / 2_000_000 * float64(time.Second)) // 2 Mbit/s clusters
	var pending []PacketResult
	var estimates []int
	for c := 0; c < 4; c++ {
		start := t0.Add(time.Duration(c) * 1500 * time.Millisecond)
		for at := start; at.Before(start.Add(250 * time.Millisecond)); at = at.Add(gap) {
			// A 5 Mbit/s link with 20 ms of delay: the clusters get through whole.
			pending = append(pending, PacketResult{SendTime: at, Size: size, Received: true, Arrival: at.Add(20 * time.Millisecond), Probe: true})
		}
		for at := start; at.Before(start.Add(1500 * time.Millisecond)); at = at.Add(50 * time.Millisecond) {
			pending = deliverFeedback(e, at, pending)
		}
		estimates = append(estimates, e.Estimate())
	}
	if estimates[len(estimates)-1] < 1_000_000 {
		t.Fatalf("estimate after each probe cluster: %v; want over 1 Mbit/s from 2 Mbit/s clusters", estimates)
	}
}
