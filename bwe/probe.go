package bwe

import "time"

// Prober decides when to send padding to test whether the link carries more than the
// estimate: before stepping a track up, and while video is paused or capped (when media
// alone could never show that more fits).
type Prober struct {
	backoff   time.Duration
	nextProbe time.Time
	until     time.Time
	rate      int
	startEst  int
	gain      float64 // of the next probe over the estimate
	// quiet is when the prober last probed, or first saw nothing worth probing for: small
	// gains are probed for only every probeSmallGainEvery.
	quiet time.Time
}

const (
	// A probe at twice the estimate for this long queues at most this long's worth of
	// data on a link that cannot take it, and gives enough packets to measure.
	probeDuration   = 250 * time.Millisecond
	probeMinBackoff = time.Second
	// Capped low so that capacity coming back is found within a few seconds.
	probeMaxBackoff = 1500 * time.Millisecond
	// A probe goes to probeGain times the estimate; after one that got through whole (the
	// link did not limit it) the next goes to probeFastGain, after one that did not raise
	// the estimate to probeGentleGain, which costs a constrained link less queueing while
	// still finding capacity that came back.
	probeGain       = 2.0
	probeFastGain   = 3.0
	probeGentleGain = 1.5
	// probeOvershoot aims a probe above what the allocation wants: what a probe proves is
	// discounted (probeUtilization), and the padding actually sent falls short of what is
	// asked (it goes out in whole packets per tick), so a probe at exactly the desired rate
	// could never unlock the layer that needs it. libwebrtc probes at up to twice the
	// allocation.
	probeOvershoot = 1.5
	// probeFollowUp is the pause after a probe that raised the estimate before the next one,
	// so a link that came back is climbed in a few quick steps (libwebrtc probes again at
	// once after a successful probe, "further exponential probing").
	probeFollowUp = 100 * time.Millisecond
	// probeRaised: a probe that raised the estimate by this factor is followed soon by
	// another at probeGain. A smaller rise is what a link near its limit gives (a token
	// bucket's burst lets part of a probe through above the rate), and a quick probe at
	// twice that would overfill its queue and lose media; it waits the backoff instead.
	probeRaised = 1.25
	// probeJudgeDelay is how long after a probe ends its outcome is judged: the estimator
	// takes a cluster's result once feedback shows the cluster complete, a feedback
	// interval and a round trip after its last packet.
	probeJudgeDelay = 200 * time.Millisecond
	// probeSmallGain: an estimate within this factor of what the allocation wants is not
	// probed above at once; but the allocator keeps headroom, so such an estimate can hold a
	// track one layer short for good. Every probeSmallGainEvery it is probed anyway (as
	// libwebrtc probes periodically while application-limited).
	probeSmallGain      = 1.1
	probeSmallGainEvery = 1500 * time.Millisecond
)

// Update returns the total rate (media and padding) to send at now, or 0 when not
// probing. desired is what the allocation would use with no bandwidth limit.
func (p *Prober) Update(now time.Time, estimate, desired int, s Signal) int {
	if p.backoff == 0 {
		p.backoff = probeMinBackoff
		p.gain = probeGain
	}
	if !p.until.IsZero() {
		if now.Before(p.until) && s != SignalOveruse {
			return p.rate
		}
		if s == SignalOveruse && now.Before(p.until) {
			p.until = now // cut short: judged as one that did not help
		}
		judged := p.until.Add(probeJudgeDelay)
		if now.Before(judged) && s != SignalOveruse {
			return 0 // over; its result is not in yet
		}
		// Probe over and its result in. One that proved about its whole rate (the link did
		// not limit it) is followed soon by a bolder one; one that moved the estimate, soon
		// by another; one that did not (or hit overuse) waits longer, and the next one is
		// gentler.
		p.until = time.Time{}
		p.quiet = now
		switch {
		case s != SignalOveruse && float64(estimate) >= 0.85*float64(p.rate):
			p.backoff, p.gain = probeMinBackoff, probeFastGain
			p.nextProbe = judged.Add(probeFollowUp)
		case s != SignalOveruse && float64(estimate) >= probeRaised*float64(p.startEst):
			p.backoff, p.gain = probeMinBackoff, probeGain
			p.nextProbe = judged.Add(probeFollowUp)
		default:
			p.backoff, p.gain = min(2*p.backoff, probeMaxBackoff), probeGentleGain
			p.nextProbe = judged.Add(p.backoff)
		}
		return 0
	}
	if p.quiet.IsZero() {
		p.quiet = now
	}
	small := float64(desired) <= probeSmallGain*float64(estimate)
	if desired <= estimate || small && now.Sub(p.quiet) < probeSmallGainEvery || s == SignalOveruse || now.Before(p.nextProbe) {
		return 0
	}
	p.rate = min(int(probeOvershoot*float64(desired)), int(p.gain*float64(estimate)))
	p.startEst = estimate
	p.until = now.Add(probeDuration)
	return p.rate
}
