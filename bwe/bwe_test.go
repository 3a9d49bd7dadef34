package bwe

import (
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/simulcast"
)

// link is a bottleneck with a FIFO queue: each packet leaves when the one before it has
// left and its own bits have gone through at the link's rate; packets finding the queue
// longer than maxQueue are dropped (a tail-drop token bucket, like tc tbf).
type link struct {
	bps      float64
	maxQueue time.Duration
	busyTill time.Time
	delay    time.Duration
}

func (l *link) send(at time.Time, size int) (arrival time.Time, ok bool) {
	start := at
	if l.busyTill.After(start) {
		if l.busyTill.Sub(at) > l.maxQueue {
			return time.Time{}, false
		}
		start = l.busyTill
	}
	l.busyTill = start.Add(time.Duration(float64(size*8) / l.bps * float64(time.Second)))
	return l.busyTill.Add(l.delay), true
}

// simulate sends at the estimate (capped by demand, plus probe padding) through l for d,
// with feedback every 50 ms, and returns the estimate over time (one sample per 100 ms).
func simulate(t *testing.T, e *Estimator, l *link, start time.Time, d time.Duration, demand int, capacity func(time.Duration) float64) []int {
	t.Helper()
	var samples []int
	var pending []PacketResult
	var prober Prober
	now := start
	nextFeedback := now.Add(50 * time.Millisecond)
	nextSample := now
	const size = 1200
	for now.Before(start.Add(d)) {
		if capacity != nil {
			l.bps = capacity(now.Sub(start))
		}
		rate := min(e.Estimate(), demand)
		probe := prober.Update(now, e.Estimate(), demand, e.Signal())
		isProbe := probe > rate
		if isProbe {
			rate = probe
		}
		gap := time.Duration(float64(size*8) / float64(rate) * float64(time.Second))
		arr, ok := l.send(now, size)
		pending = append(pending, PacketResult{SendTime: now, Size: size, Received: ok, Arrival: arr, Probe: isProbe})
		now = now.Add(gap)
		if !now.Before(nextFeedback) {
			pending = deliverFeedback(e, now, pending)
			nextFeedback = now.Add(50 * time.Millisecond)
		}
		for !now.Before(nextSample) {
			samples = append(samples, e.Estimate())
			nextSample = nextSample.Add(100 * time.Millisecond)
		}
	}
	return samples
}

func TestEstimatorConvergesBelowCapacity(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 3_000_000})
	l := &link{bps: 1_000_000, maxQueue: 300 * time.Millisecond, delay: 20 * time.Millisecond}
	s := simulate(t, e, l, time.Unix(1000, 0), 10*time.Second, 5_000_000, nil)
	if first := firstBelow(s, 1_000_000); first < 0 || first > 15 {
		t.Fatalf("estimate fell below capacity only at sample %d: %v", first, s[:20])
	}
	assertNear(t, s[len(s)-30:], 1_000_000, 0.25)
}

func TestEstimatorFollowsDropAndRestore(t *testing.T) {
	e := NewEstimator(Config{InitialBps: 1_000_000})
	capacity := func(at time.Duration) float64 {
		if at >= 10*time.Second && at < 20*time.Second {
			return 400_000
		}
		return 3_000_000
	}
	l := &link{bps: 3_000_000, maxQueue: 200 * time.Millisecond, delay: 20 * time.Millisecond}
	s := simulate(t, e, l, time.Unix(1000, 0), 35*time.Second, 2_500_000, capacity)
	// Before the drop the estimate is above the demand (it may run up to 1.5 times what
	// gets through), so it does not limit the sender.
	for _, v := range s[80:100] {
		if v < 2_500_000 {
			t.Fatalf("estimate limited the sender before the drop: %v", s[80:100])
		}
	}
	drop := firstBelow(s[100:], 400_000)
	if drop < 0 || drop > 12 {
		t.Fatalf("estimate took %d samples to fall under 400k after the drop: %v", drop, s[100:130])
	}
	assertNear(t, s[150:200], 400_000, 0.25)
	up := -1
	for i, v := range s[200:] {
		if v >= 2_000_000 {
			up = i
			break
		}
	}
	if up < 0 || up > 60 {
		t.Fatalf("estimate did not recover within 6 s of the restore: %v", s[200:])
	}
	t.Logf("fell under capacity %d ms after the drop; back over 2 Mbit/s %d ms after the restore", drop*100, up*100)
}

func TestEstimatorUsesREMB(t *testing.T) {
	e := NewEstimator(Config{})
	e.OnREMB(time.Unix(1, 0), 640_000)
	if e.Estimate() != 640_000 {
		t.Fatalf("estimate %d", e.Estimate())
	}
}

func firstBelow(s []int, v int) int {
	for i, x := range s {
		if x <= v {
			return i
		}
	}
	return -1
}

func assertNear(t *testing.T, s []int, want int, tol float64) {
	t.Helper()
	sum := 0
	for _, v := range s {
		sum += v
	}
	mean := float64(sum) / float64(len(s))
	if mean < float64(want)*(1-tol) || mean > float64(want)*(1+tol) {
		t.Fatalf("mean estimate %.0f, want %d ±%.0f%%: %v", mean, want, tol*100, s)
	}
}

func layers(q, h, f int) [simulcast.MaxLayers]int { return [simulcast.MaxLayers]int{q, h, f} }

func TestAllocate(t *testing.T) {
	cam := func(id string, class, prio int) Track {
		return Track{ID: id, Class: class, Priority: prio, LayerBps: layers(150_000, 500_000, 1_700_000), MaxLayer: 2}
	}
	audio := Track{ID: "mic", Audio: true, LayerBps: layers(40_000, 0, 0)}
	tests := []struct {
		name     string
		estimate int
		tracks   []Track
		want     []Allocation
	}{
		{"plenty", 10_000_000, []Track{audio, cam("a", ClassDefault, 0), cam("b", ClassDefault, 0)},
			[]Allocation{{ID: "mic", Layer: 0}, {ID: "a", Layer: 2}, {ID: "b", Layer: 2}}},
		{"priority gets the better layer at 1 Mbit/s", 1_000_000, []Track{audio, cam("low", ClassDefault, 0), cam("pinned", ClassPinned, 0)},
			[]Allocation{{ID: "mic", Layer: 0}, {ID: "low", Layer: 0, Reason: ReasonBandwidth}, {ID: "pinned", Layer: 1, Reason: ReasonBandwidth}}},
		{"screen share first", 1_000_000, []Track{cam("cam", ClassPinned, 0), cam("screen", ClassScreen, 0)},
			[]Allocation{{ID: "cam", Layer: 0, Reason: ReasonBandwidth}, {ID: "screen", Layer: 1, Reason: ReasonBandwidth}}},
		{"lowest priority paused at 200 kbit/s, audio flows", 200_000, []Track{audio, cam("low", ClassDefault, 0), cam("high", ClassDefault, 5)},
			[]Allocation{{ID: "mic", Layer: 0}, {ID: "low", Layer: simulcast.NoLayer, State: StatePausedBandwidth, Reason: ReasonBandwidth},
				{ID: "high", Layer: 0, Reason: ReasonBandwidth}}},
		{"audio even when nothing fits", 10_000, []Track{audio, cam("a", ClassDefault, 0)},
			[]Allocation{{ID: "mic", Layer: 0}, {ID: "a", Layer: simulcast.NoLayer, State: StatePausedBandwidth, Reason: ReasonBandwidth}}},
		{"preference caps", 10_000_000, []Track{{ID: "small", LayerBps: layers(150_000, 500_000, 1_700_000), MaxLayer: 0}},
			[]Allocation{{ID: "small", Layer: 0, Reason: ReasonPreference}}},
		{"disabled", 10_000_000, []Track{{ID: "hidden", Disabled: true, LayerBps: layers(150_000, 0, 0), MaxLayer: 2}},
			[]Allocation{{ID: "hidden", Layer: simulcast.NoLayer, State: StatePausedPreference, Reason: ReasonPreference}}},
		{"publisher not sending f", 10_000_000, []Track{{ID: "a", LayerBps: layers(150_000, 500_000, 0), MaxLayer: 2}},
			[]Allocation{{ID: "a", Layer: 1, Reason: ReasonPublisher}}},
		{"single layer", 10_000_000, []Track{{ID: "vp9", LayerBps: layers(800_000, 0, 0), MaxLayer: 2}},
			[]Allocation{{ID: "vp9", Layer: 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Allocate(tc.estimate, tc.tracks)
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.ID != w.ID || g.Layer != w.Layer || g.State != w.State || g.Reason != w.Reason {
					t.Fatalf("track %s: got layer %d %v %q, want layer %d %v %q", g.ID, g.Layer, g.State, g.Reason, w.Layer, w.State, w.Reason)
				}
			}
		})
	}
}

func TestDesired(t *testing.T) {
	got := Desired([]Track{{Audio: true, LayerBps: layers(40_000, 0, 0)},
		{LayerBps: layers(150_000, 500_000, 1_700_000), MaxLayer: 1},
		{LayerBps: layers(150_000, 0, 0), Disabled: true}})
	if want := int(float64(540_000) / headroom); got != want {
		t.Fatalf("Desired = %d, want %d", got, want)
	}
}

func TestProber(t *testing.T) {
	var p Prober
	now := time.Unix(0, 0)
	if r := p.Update(now, 1_000_000, 1_050_000, SignalNormal); r != 0 {
		t.Fatal("probed with nothing to gain")
	}
	if r := p.Update(now, 300_000, 2_000_000, SignalNormal); r != 600_000 {
		t.Fatalf("probe rate %d, want twice the estimate", r)
	}
	if r := p.Update(now.Add(100*time.Millisecond), 300_000, 2_000_000, SignalNormal); r != 600_000 {
		t.Fatal("probe ended early")
	}
	// It did not help: the next probe waits for the doubled backoff, counted from when its
	// result was judged.
	end := now.Add(probeDuration)
	if r := p.Update(end.Add(50*time.Millisecond), 300_000, 2_000_000, SignalNormal); r != 0 {
		t.Fatal("probe did not end")
	}
	next := end.Add(probeJudgeDelay + min(2*probeMinBackoff, probeMaxBackoff))
	if r := p.Update(end.Add(probeJudgeDelay), 300_000, 2_000_000, SignalNormal); r != 0 {
		t.Fatal("probed again at the judgement")
	}
	if r := p.Update(next.Add(-100*time.Millisecond), 300_000, 2_000_000, SignalNormal); r != 0 {
		t.Fatal("probed again before the backoff")
	}
	if r := p.Update(next, 300_000, 2_000_000, SignalNormal); r == 0 {
		t.Fatal("no probe after the backoff")
	}
	if r := p.Update(next.Add(100*time.Millisecond), 300_000, 2_000_000, SignalOveruse); r != 0 {
		t.Fatal("kept probing through overuse")
	}
}

// deliverFeedback reports to e what of pending has arrived (or been lost) by now, as a
// receiver's feedback would, and returns the packets still in flight.
func deliverFeedback(e *Estimator, now time.Time, pending []PacketResult) []PacketResult {
	var ready, later []PacketResult
	for _, p := range pending {
		if !p.Received || !p.Arrival.After(now) {
			ready = append(ready, p)
		} else {
			later = append(later, p)
		}
	}
	e.OnFeedback(now, ready)
	return later
}

// BenchmarkEstimatorFeedback is one feedback report of 25 packets (500 packets per second,
// reported every 50 ms) on a steady link, the estimator's work per report.
func BenchmarkEstimatorFeedback(b *testing.B) {
	e := NewEstimator(Config{InitialBps: 1_000_000})
	now := time.Unix(1000, 0)
	results := make([]PacketResult, 25)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := range results {
			sent := now.Add(time.Duration(j) * 2 * time.Millisecond)
			results[j] = PacketResult{SendTime: sent, Size: 1200, Received: true, Arrival: sent.Add(20 * time.Millisecond)}
		}
		now = now.Add(50 * time.Millisecond)
		e.OnFeedback(now, results)
	}
}
