package bwe

import (
	"errors"
	"math"
	"time"
)

// Config bounds an estimator. Zero values take the defaults.
type Config struct {
	InitialBps int // default 1 Mbit/s
	MinBps     int // default 50 kbit/s
	MaxBps     int // default 20 Mbit/s
}

func (c *Config) setDefaults() {
	if c.InitialBps == 0 {
		c.InitialBps = 1_000_000
	}
	if c.MinBps == 0 {
		c.MinBps = 50_000
	}
	if c.MaxBps == 0 {
		c.MaxBps = 20_000_000
	}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.InitialBps < 0 || c.MinBps < 0 || c.MaxBps < 0 {
		return errors.New("bwe: negative bitrate")
	}
	if c.MaxBps != 0 && c.MinBps > c.MaxBps {
		return errors.New("bwe: min above max")
	}
	return nil
}

type rateState int

const (
	stateHold rateState = iota
	stateIncrease
	stateDecrease
)

const (
	ackedWindow  = 500 * time.Millisecond
	recentWindow = 200 * time.Millisecond // what an overuse backs off from
	// queueGrowthMin is how much longer than their sending the recent packets must have
	// taken to arrive for an overuse to count as a filling queue: a tenth of the window,
	// arrivals under 90% of the send rate. Less is within what a busy receiver's jitter
	// does; a link that really cannot carry the rate either shows more or, once its queue
	// is full, loses packets (queueLossMax).
	queueGrowthMin = recentWindow / 10
	// queueLossMax is the share of what was sent in the last window that may be lost
	// without the queue counting as full: random loss on the way is not congestion.
	queueLossMax = 0.05
	sentLogSpan  = time.Second
	lossWindow   = time.Second
	// lossSettle is how long after a cut losses are not counted: the queue in front of the
	// bottleneck drains and the forwarding steps down.
	lossSettle        = 500 * time.Millisecond
	decreaseFactor    = 0.85 // of the acknowledged rate on overuse (section 6)
	increasePerSecond = 1.08 // multiplicative increase far from the last decrease
	lossHigh          = 0.10
	lossLow           = 0.02
	// convergenceMemory is how long the rate of the last overuse slows growth near it;
	// after that the link may well have changed.
	convergenceMemory = 3 * time.Second
)

type acked struct {
	at, sent time.Time
	size     int
}

type sentResult struct {
	sent     time.Time
	size     int
	received bool
}

// Estimator turns transport-wide feedback (or REMB) into a bandwidth estimate for one
// subscriber connection.
type Estimator struct {
	cfg Config
	tl  *trendline

	delayBps   float64
	lossBps    float64
	state      rateState
	lastUpdate time.Time
	lastChange time.Time
	// lastDecreaseBps is the rate at the last overuse: growth slows near it.
	lastDecreaseBps float64
	rtt             time.Duration

	ackedLog   []acked // received packets within ackedWindow, by arrival
	ackedBytes int     // the sum of ackedLog's sizes
	ackedBps   float64
	latestArr  time.Time // the latest arrival reported

	lossSent, lossLost int
	lossStart          time.Time
	lastLossChange     time.Time
	lastCut            time.Time // the estimate last came down (delay or loss)
	// sentLog is every packet feedback reported on lately (received or not), by send
	// time, for the share of what was sent that got through.
	sentLog    []sentResult
	latestSent time.Time // the latest send time reported on
	lossFrac   float64

	remb       bool // estimate comes from REMB: no TWCC
	lastSignal Signal

	// The probe cluster being received.
	probe probeCluster
}

// NewEstimator returns an estimator starting at cfg.InitialBps.
func NewEstimator(cfg Config) *Estimator {
	cfg.setDefaults()
	return &Estimator{cfg: cfg, tl: newTrendline(), delayBps: float64(cfg.InitialBps), lossBps: float64(cfg.InitialBps),
		rtt: 100 * time.Millisecond}
}

// Estimate is the current estimate in bits per second.
func (e *Estimator) Estimate() int {
	v := math.Min(e.delayBps, e.lossBps)
	return int(math.Max(float64(e.cfg.MinBps), math.Min(float64(e.cfg.MaxBps), v)))
}

// Signal is the delay-based detector's last reading.
func (e *Estimator) Signal() Signal { return e.lastSignal }

// AckedBps is the rate the receiver has been receiving at.
func (e *Estimator) AckedBps() int { return int(e.ackedBps) }

// LossFraction is the share of packets lost over the last feedback window.
func (e *Estimator) LossFraction() float64 { return e.lossFrac }

// SetRTT updates the round-trip time (from RTCP receiver reports).
func (e *Estimator) SetRTT(rtt time.Duration) {
	if rtt > 0 && rtt < 10*time.Second {
		e.rtt = rtt
	}
}

// OnREMB uses a receiver's own estimate (REMB) for a subscriber that offers no
// transport-wide feedback.
func (e *Estimator) OnREMB(now time.Time, bps int) {
	e.remb = true
	e.delayBps = float64(bps)
	e.lossBps = math.Max(e.lossBps, float64(bps))
	e.lastUpdate = now
}

// OnFeedback processes one feedback report's packets, in transport sequence order.
func (e *Estimator) OnFeedback(now time.Time, results []PacketResult) {
	if len(results) == 0 {
		return
	}
	ended := false // a packet sent after the probe cluster: the cluster is complete
	e.tl.rateHint = float64(e.Estimate())
	for _, r := range results {
		// A cluster is complete when a packet sent after it is reported: one that is not a
		// probe, or a probe of the next cluster (a subscriber receiving nothing but probes
		// while its video is paused has no other packets).
		if e.probe.n > 0 && (!r.Probe || r.SendTime.Sub(e.probe.lastSend) > probeClusterGap) {
			ended = true
		}
		// Loss counts only what was sent a while after the last cut and outside probes:
		// packets already queued when the estimate came down, or sent before the forwarding
		// could follow it (a lower layer starts at its keyframe), are lost to the old rate,
		// and counting them would cut again for the same congestion; a probe may overfill
		// the link on purpose.
		if !r.Probe && !r.SendTime.Before(e.lastCut.Add(lossSettle)) {
			e.lossSent++
			if !r.Received {
				e.lossLost++
			}
		}
		e.sentLog = append(e.sentLog, sentResult{sent: r.SendTime, size: r.Size, received: r.Received})
		e.latestSent = maxTime(e.latestSent, r.SendTime)
		if !r.Received {
			continue
		}
		e.tl.add(r)
		e.ackedLog = append(e.ackedLog, acked{at: r.Arrival, sent: r.SendTime, size: r.Size})
		e.ackedBytes += r.Size
		e.latestArr = maxTime(e.latestArr, r.Arrival)
		if r.Probe && !ended {
			e.probe.add(r)
		}
	}
	e.updateAcked()
	e.trimSent()
	signal := e.tl.signal
	e.lastSignal = signal
	e.updateDelayBased(now, signal)
	// A complete probe cluster proves the rate it got through at (section 7's probing,
	// simplified): take it at once instead of growing toward it. Only a complete one: a
	// bottleneck's token bucket lets the start of a probe through at the probe's rate
	// whatever the link carries, so part of a cluster can prove far too much.
	switch {
	case signal == SignalOveruse:
		e.probe.reset()
	case ended:
		if rate := e.probe.rate() * probeUtilization; rate > e.delayBps {
			e.delayBps = math.Min(rate, float64(e.cfg.MaxBps))
			e.lossBps = math.Max(e.lossBps, e.delayBps)
		}
		e.probe.reset()
	}
	e.updateLossBased(now)
}

// queueGrowing reports whether the bottleneck queue is filling: the packets that arrived
// within the last window took longer to arrive than to send (by more than
// queueGrowthMin), or more than queueLossMax of what was sent in the last window was lost
// (a full tail-drop queue holds its delay steady and drops instead). A delay trend without
// either is jitter on the way (a receiver that stalled and then read a burst, a burst that
// already drained, the tail of a queue that is emptying), not congestion, and cutting for
// it would throw away a layer for nothing.
func (e *Estimator) queueGrowing(window time.Duration) bool {
	if len(e.ackedLog) < probeMinPackets {
		return true // too little to tell: trust the detector
	}
	if e.recentLoss(window) > queueLossMax {
		return true
	}
	latest := e.latestArr
	var firstArr, firstSent, lastSent time.Time
	n := 0
	for _, a := range e.ackedLog {
		if latest.Sub(a.at) > window {
			continue
		}
		if n == 0 {
			firstArr, firstSent, lastSent = a.at, a.sent, a.sent
		}
		firstArr, firstSent, lastSent = minTime(firstArr, a.at), minTime(firstSent, a.sent), maxTime(lastSent, a.sent)
		n++
	}
	if n < probeMinPackets {
		return true
	}
	return latest.Sub(firstArr)-lastSent.Sub(firstSent) > queueGrowthMin
}

// recentLoss is the share of the bytes sent in the last window (by send time, of what
// feedback has reported on) that were lost.
func (e *Estimator) recentLoss(window time.Duration) float64 {
	if len(e.sentLog) == 0 {
		return 0
	}
	latest := e.latestSent
	var total, lost int
	for _, r := range e.sentLog {
		if latest.Sub(r.sent) > window {
			continue
		}
		total += r.size
		if !r.received {
			lost += r.size
		}
	}
	if total == 0 {
		return 0
	}
	return float64(lost) / float64(total)
}

// trimSent drops what was sent more than sentLogSpan before the latest report, from the
// front (the log is in transport sequence order, which is send order): feedback comes
// every 50-100 ms for every subscriber, so this runs in time proportional to what it drops.
func (e *Estimator) trimSent() {
	cut := 0
	for cut < len(e.sentLog) && e.latestSent.Sub(e.sentLog[cut].sent) > sentLogSpan {
		cut++
	}
	if cut > 0 {
		e.sentLog = e.sentLog[:copy(e.sentLog, e.sentLog[cut:])]
	}
}

// recentAckedBps is the rate packets arrived at over the last window of arrivals (0 when
// less than half of it is covered).
func (e *Estimator) recentAckedBps(window time.Duration) float64 {
	if len(e.ackedLog) == 0 {
		return 0
	}
	latest := e.latestArr
	first := latest
	bytes := 0
	for _, a := range e.ackedLog {
		if latest.Sub(a.at) <= window {
			bytes += a.size
			first = minTime(first, a.at)
		}
	}
	span := latest.Sub(first)
	if span < window/2 {
		return 0
	}
	return float64(bytes*8) / span.Seconds()
}

func (e *Estimator) updateAcked() {
	if len(e.ackedLog) == 0 {
		return
	}
	// The log is in arrival order but for reordering on the way: trim from the front, in
	// time proportional to what is dropped, and keep the byte sum running.
	latest := e.latestArr
	cut := 0
	for cut < len(e.ackedLog) && latest.Sub(e.ackedLog[cut].at) > ackedWindow {
		e.ackedBytes -= e.ackedLog[cut].size
		cut++
	}
	if cut > 0 {
		e.ackedLog = e.ackedLog[:copy(e.ackedLog, e.ackedLog[cut:])]
	}
	if len(e.ackedLog) == 0 {
		return
	}
	// Over the span actually covered (early on the window is not full yet), but never
	// less than a fifth of it, so one burst does not read as a huge rate.
	span := max(latest.Sub(e.ackedLog[0].at), ackedWindow/5)
	e.ackedBps = float64(e.ackedBytes*8) / span.Seconds()
}

// updateDelayBased is the AIMD rate controller (draft-ietf-rmcat-gcc-02 section 6).
func (e *Estimator) updateDelayBased(now time.Time, s Signal) {
	if e.remb {
		return
	}
	if e.lastUpdate.IsZero() {
		e.lastUpdate = now
	}
	dt := now.Sub(e.lastUpdate).Seconds()
	e.lastUpdate = now
	switch s {
	case SignalOveruse:
		if !e.queueGrowing(recentWindow) {
			e.state = stateHold
			return
		}
		if e.probe.n > 0 && e.probe.recvRate(probeOveruseSpan) == 0 {
			// A probe is filling the queue on purpose and too little of it has arrived to
			// say what the link carries: wait for the next report rather than cut to a rate
			// averaged over the app-limited time before it.
			e.state = stateHold
			return
		}
		if e.state != stateDecrease || now.Sub(e.lastChange) > e.rtt+100*time.Millisecond {
			// What is arriving now: at a bottleneck that just lost capacity the acked window
			// still holds the old rate, so the recent arrivals say more.
			base := e.ackedBps
			if r := e.recentAckedBps(recentWindow); r > 0 && r < base {
				base = r
			}
			if base <= 0 {
				base = e.delayBps
			}
			next := decreaseFactor * base
			// A probe that overfilled the link measured what the link carries: the queue
			// is the probe's own doing and drains when it ends, and the acked rate, averaged
			// over a window that was mostly app-limited, would cut far below the link. Take
			// what the probe got through, discounted as a probe result is, even if that is
			// above the estimate.
			if r := e.probe.recvRate(probeOveruseSpan); r > 0 {
				next = math.Min(probeUtilization*r, float64(e.cfg.MaxBps))
				e.delayBps = next
				e.lossBps = math.Max(e.lossBps, e.delayBps)
			} else if next < e.delayBps {
				e.delayBps = next
			}
			e.lastDecreaseBps = e.delayBps
			e.state = stateDecrease
			e.lastChange = now
			e.cut(now)
		}
		return
	case SignalUnderuse:
		e.state = stateHold
		return
	}
	if e.state == stateDecrease && now.Sub(e.lastChange) < e.rtt {
		return
	}
	e.state = stateIncrease
	dt = math.Min(dt, 1)
	prev := e.delayBps
	recent := now.Sub(e.lastChange) < convergenceMemory
	if recent && e.lastDecreaseBps > 0 && e.delayBps < 1.3*e.lastDecreaseBps && e.delayBps > 0.7*e.lastDecreaseBps {
		// Near the rate that last caused queuing: grow by about one packet per round trip.
		perRTT := 1200.0 * 8
		e.delayBps += perRTT * dt / math.Max(e.rtt.Seconds()+0.1, 0.1)
	} else {
		e.delayBps *= math.Pow(increasePerSecond, dt)
	}
	// Never grow far ahead of what is actually getting through (but an estimate is not cut
	// just because the sender has less to send: that is what probing is for).
	if limit := 1.5*e.ackedBps + 10_000; e.ackedBps > 0 && e.delayBps > limit {
		e.delayBps = math.Max(prev, limit)
	}
	e.delayBps = math.Max(e.delayBps, float64(e.cfg.MinBps))
}

// cut notes that the estimate came down: the loss window starts again, with what is sent
// from now on.
func (e *Estimator) cut(now time.Time) {
	e.lastCut = now
	e.lossSent, e.lossLost = 0, 0
	e.lossStart = now
}

// updateLossBased lowers the estimate under heavy loss and lets it recover under light
// loss (section 6, loss-based control).
func (e *Estimator) updateLossBased(now time.Time) {
	if e.lossStart.IsZero() {
		e.lossStart = now
	}
	if now.Sub(e.lossStart) < lossWindow && e.lossSent < 100 {
		return
	}
	if e.lossSent > 0 {
		e.lossFrac = float64(e.lossLost) / float64(e.lossSent)
	}
	e.lossSent, e.lossLost = 0, 0
	e.lossStart = now
	switch {
	case e.lossFrac > lossHigh:
		if now.Sub(e.lastLossChange) > 300*time.Millisecond+e.rtt {
			e.lossBps = math.Min(e.lossBps, e.delayBps) * (1 - 0.5*e.lossFrac)
			e.lastLossChange = now
			e.cut(now)
		}
	case e.lossFrac < lossLow:
		e.lossBps = math.Max(e.lossBps*1.08, e.delayBps)
	}
	e.lossBps = math.Max(e.lossBps, float64(e.cfg.MinBps))
}
