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
}

const (
	// A probe at twice the estimate for this long queues at most this long's worth of
	// data on a link that cannot take it, and gives enough packets to measure.
	probeDuration   = 250 * time.Millisecond
	probeMinBackoff = time.Second
	// Capped low so that capacity coming back is found within a few seconds.
	probeMaxBackoff = 3 * time.Second
	probeMaxGain    = 2.0 // probe at most at twice the estimate
)

// Update returns the total rate (media and padding) to send at now, or 0 when not
// probing. desired is what the allocation would use with no bandwidth limit.
func (p *Prober) Update(now time.Time, estimate, desired int, s Signal) int {
	if p.backoff == 0 {
		p.backoff = probeMinBackoff
	}
	if !p.until.IsZero() {
		if now.Before(p.until) && s != SignalOveruse {
			return p.rate
		}
		// Probe over: a probe that moved the estimate resets the backoff, one that did not
		// (or hit overuse) waits longer before the next.
		if float64(estimate) >= 1.1*float64(p.startEst) {
			p.backoff = probeMinBackoff
		} else {
			p.backoff = min(2*p.backoff, probeMaxBackoff)
		}
		p.until = time.Time{}
		p.nextProbe = now.Add(p.backoff)
		return 0
	}
	if float64(desired) <= 1.1*float64(estimate) || s == SignalOveruse || now.Before(p.nextProbe) {
		return 0
	}
	p.rate = min(desired, int(probeMaxGain*float64(estimate)))
	p.startEst = estimate
	p.until = now.Add(probeDuration)
	return p.rate
}

// Probing reports whether a probe is under way.
func (p *Prober) Probing() bool { return !p.until.IsZero() }
