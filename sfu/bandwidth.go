package sfu

import (
	"sync"
	"time"

	"github.com/cascade-sfu/cascade/bwe"
)

// bandwidth is one subscriber connection's downlink estimate. Feedback arrives on the
// connection's RTCP goroutines; the participant's queue reads the estimate and runs the
// allocation.
type bandwidth struct {
	mu       sync.Mutex // guards est, prober, sawTWCC
	est      *bwe.Estimator
	prober   bwe.Prober
	sawTWCC  bool
	feedback int // feedback reports seen, for tests and stats
	first    time.Time
	// onMove, when set, is called (outside the lock) when the estimate moves well away
	// from what the last allocation used, so the allocation runs at once rather than at
	// its next tick: the sooner video steps down, the shorter the freeze a queue building
	// up causes; the sooner it steps up after a probe, the sooner the next probe can go.
	onMove    func()
	allocated int       // the estimate the last allocation used
	kicked    time.Time // when onDrop was last called
}

const (
	// moveFraction is how far from the allocated estimate (down, or up) triggers an early
	// allocation.
	moveFraction = 0.15
	// minKickGap spaces early allocations.
	minKickGap = 50 * time.Millisecond
)

// trustAfter is how long feedback must have been arriving before the estimate may pause
// video: until then it is the initial guess, and starting video at its lowest layer and
// letting feedback correct it beats leaving a new subscriber with a black tile.
const trustAfter = 1500 * time.Millisecond

// trusted reports whether the estimate comes from enough feedback to act on.
func (b *bandwidth) trusted(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.first.IsZero() && now.Sub(b.first) >= trustAfter
}

func newBandwidth(cfg bwe.Config) *bandwidth {
	return &bandwidth{est: bwe.NewEstimator(cfg)}
}

// OnTransportFeedback implements transport.FeedbackListener.
func (b *bandwidth) OnTransportFeedback(results []bwe.PacketResult) {
	now := time.Now()
	b.mu.Lock()
	b.sawTWCC = true
	b.feedback++
	if b.first.IsZero() {
		b.first = now
	}
	b.est.OnFeedback(now, results)
	est, alloc := float64(b.est.Estimate()), float64(b.allocated)
	moved := est < alloc*(1-moveFraction) || est > alloc*(1+moveFraction)
	kick := b.onMove != nil && b.allocated > 0 && moved && now.Sub(b.kicked) >= minKickGap
	if kick {
		b.kicked = now
	}
	b.mu.Unlock()
	if kick {
		b.onMove()
	}
}

// OnREMB implements transport.FeedbackListener; REMB counts only without transport-cc.
func (b *bandwidth) OnREMB(bps int) {
	b.mu.Lock()
	if !b.sawTWCC {
		b.est.OnREMB(time.Now(), bps)
		if b.first.IsZero() {
			b.first = time.Now()
		}
	}
	b.mu.Unlock()
}

// snapshot returns the estimate and the detector's signal.
func (b *bandwidth) snapshot() (estimate int, signal bwe.Signal, loss float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.est.Estimate(), b.est.Signal(), b.est.LossFraction()
}

// allocating returns the estimate to allocate and remembers it as the one in use.
func (b *bandwidth) allocating() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allocated = b.est.Estimate()
	return b.allocated
}

func (b *bandwidth) setRTT(rtt time.Duration) {
	b.mu.Lock()
	b.est.SetRTT(rtt)
	b.mu.Unlock()
}

// probe asks the prober what to send now, given what the allocation would like.
func (b *bandwidth) probe(now time.Time, desired int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.sawTWCC {
		return 0 // without transport-wide feedback a probe measures nothing
	}
	return b.prober.Update(now, b.est.Estimate(), desired, b.est.Signal())
}
