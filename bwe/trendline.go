package bwe

import "time"

// Signal is the delay-based detector's reading of the network.
type Signal int

const (
	SignalNormal   Signal = iota
	SignalOveruse         // queues are growing: send less
	SignalUnderuse        // queues are draining
)

func (s Signal) String() string {
	return [...]string{"normal", "overuse", "underuse"}[s]
}

// Constants from draft-ietf-rmcat-gcc-02 section 5 and common practice.
const (
	burstWindow       = 5 * time.Millisecond // packets sent within this of each other form a group
	trendWindow       = 20                   // groups in the regression
	trendSmoothing    = 0.9
	trendGain         = 4.0
	thresholdInitial  = 12.5 // ms
	thresholdMin      = 6.0
	thresholdMax      = 600.0
	thresholdUpGain   = 0.0087
	thresholdDownGain = 0.039
	overuseTime       = 10 * time.Millisecond
	// A group this many times larger than the recent average is a burst (a keyframe sent
	// at once: the SFU has no pacer): its own serialization is not taken for congestion.
	burstFactor    = 2.0
	groupSizeDecay = 0.1 // weight of a new group in the average group size
)

// group is a burst of packets sent close together (section 5.2).
type group struct {
	firstSend, lastSend time.Time
	lastArrival         time.Time
	size                int
	valid               bool
}

// trendline is the delay-based overuse detector: it fits a line to the accumulated
// inter-group delay variation and compares its slope with an adaptive threshold.
type trendline struct {
	cur, prev     group
	firstArrival  time.Time
	accDelay      float64 // ms
	smoothed      float64 // ms
	points        [trendWindow][2]float64
	nPoints       int
	numDeltas     int
	threshold     float64
	lastThreshold time.Time
	overuseStart  time.Time
	overuseCount  int
	prevTrend     float64
	signal        Signal
	// rateHint is the current estimate (bits/s), set before each feedback report.
	rateHint float64
	meanSize float64 // average group size, bytes
}

func newTrendline() *trendline { return &trendline{threshold: thresholdInitial} }

// add feeds one received packet, in send order.
func (t *trendline) add(p PacketResult) {
	if !t.cur.valid {
		t.cur = group{firstSend: p.SendTime, lastSend: p.SendTime, lastArrival: p.Arrival, size: p.Size, valid: true}
		if t.firstArrival.IsZero() {
			t.firstArrival = p.Arrival
		}
		return
	}
	if p.SendTime.Before(t.cur.firstSend) {
		return // reordered across a group boundary: ignore
	}
	if p.SendTime.Sub(t.cur.firstSend) <= burstWindow {
		t.cur.lastSend = maxTime(t.cur.lastSend, p.SendTime)
		t.cur.lastArrival = maxTime(t.cur.lastArrival, p.Arrival)
		t.cur.size += p.Size
		return
	}
	if t.prev.valid {
		sendDelta := t.cur.lastSend.Sub(t.prev.lastSend)
		arrDelta := t.cur.lastArrival.Sub(t.prev.lastArrival)
		d := float64(arrDelta-sendDelta) / float64(time.Millisecond)
		t.update(t.discountBurst(d, sendDelta), arrDelta, t.cur.lastArrival)
	}
	if t.meanSize == 0 {
		t.meanSize = float64(t.cur.size)
	} else {
		t.meanSize += groupSizeDecay * (float64(t.cur.size) - t.meanSize)
	}
	t.prev = t.cur
	t.cur = group{firstSend: p.SendTime, lastSend: p.SendTime, lastArrival: p.Arrival, size: p.Size, valid: true}
}

// discountBurst takes out of a burst group's delay variation the time the group itself
// needs on a link running at the estimate, beyond the time since the group before it was
// sent. An unpaced keyframe queues behind itself at any bottleneck, for as long as its size
// takes at the link's rate, then drains: counted as a delay trend it reads as congestion
// and cuts the estimate after every keyframe, on a link with room to spare (and a slow
// forwarding loop may spread one keyframe over several groups). Groups of ordinary size are
// left alone, and on a link slower than the estimate a burst still shows the difference, so
// sustained queue growth is still seen.
func (t *trendline) discountBurst(delayMs float64, sendDelta time.Duration) float64 {
	if delayMs <= 0 || t.rateHint <= 0 || t.meanSize <= 0 || float64(t.cur.size) < burstFactor*t.meanSize {
		return delayMs
	}
	self := float64(t.cur.size*8)/t.rateHint*1000 - float64(sendDelta)/float64(time.Millisecond)
	return max(delayMs-max(self, 0), 0)
}

func (t *trendline) update(delayMs float64, arrDelta time.Duration, arrival time.Time) {
	t.numDeltas = min(t.numDeltas+1, 60)
	t.accDelay += delayMs
	t.smoothed = trendSmoothing*t.smoothed + (1-trendSmoothing)*t.accDelay
	x := float64(arrival.Sub(t.firstArrival)) / float64(time.Millisecond)
	if t.nPoints < trendWindow {
		t.points[t.nPoints] = [2]float64{x, t.smoothed}
		t.nPoints++
	} else {
		copy(t.points[:], t.points[1:])
		t.points[trendWindow-1] = [2]float64{x, t.smoothed}
	}
	trend := t.prevTrend
	if t.nPoints == trendWindow {
		if s, ok := slope(t.points[:t.nPoints]); ok {
			trend = s
		}
	}
	t.detect(trend, arrDelta, arrival)
	t.prevTrend = trend
}

// slope is the least-squares slope of points (section 5.3's trendline filter).
func slope(pts [][2]float64) (float64, bool) {
	var sx, sy float64
	for _, p := range pts {
		sx += p[0]
		sy += p[1]
	}
	n := float64(len(pts))
	mx, my := sx/n, sy/n
	var num, den float64
	for _, p := range pts {
		num += (p[0] - mx) * (p[1] - my)
		den += (p[0] - mx) * (p[0] - mx)
	}
	if den == 0 {
		return 0, false
	}
	return num / den, true
}

// detect compares the modified trend with the adaptive threshold (section 5.4, 5.5).
func (t *trendline) detect(trend float64, arrDelta time.Duration, now time.Time) {
	m := float64(t.numDeltas) * trend * trendGain
	switch {
	case m > t.threshold:
		if t.overuseStart.IsZero() {
			t.overuseStart = now.Add(-arrDelta / 2)
		}
		t.overuseCount++
		if now.Sub(t.overuseStart) > overuseTime && t.overuseCount > 1 && trend >= t.prevTrend {
			t.overuseStart = time.Time{}
			t.overuseCount = 0
			t.signal = SignalOveruse
		}
	case m < -t.threshold:
		t.overuseStart = time.Time{}
		t.overuseCount = 0
		t.signal = SignalUnderuse
	default:
		t.overuseStart = time.Time{}
		t.overuseCount = 0
		t.signal = SignalNormal
	}
	t.adaptThreshold(m, now)
}

func (t *trendline) adaptThreshold(m float64, now time.Time) {
	if t.lastThreshold.IsZero() {
		t.lastThreshold = now
	}
	am := abs(m)
	if am > t.threshold+15 { // a spike: do not let it drag the threshold
		t.lastThreshold = now
		return
	}
	k := thresholdDownGain
	if am > t.threshold {
		k = thresholdUpGain
	}
	dt := min(float64(now.Sub(t.lastThreshold))/float64(time.Millisecond), 100)
	t.threshold += k * (am - t.threshold) * dt
	t.threshold = max(thresholdMin, min(thresholdMax, t.threshold))
	t.lastThreshold = now
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
