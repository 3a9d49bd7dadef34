package router

import (
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the forwarding latency histogram's buckets; a last
// bucket takes everything above.
var LatencyBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
}

// LatencyBuckets is the number of buckets, the one above the last bound included.
const LatencyBuckets = len(LatencyBounds) + 1

// LatencyHistogram counts how long forwarded packets spent inside the router: from the
// moment their read goroutine had them (decrypted, out of pion's receive path) to the return
// of the write to each subscriber (encrypted and handed to the socket). One is shared by
// every receiver of a node; a fan-out adds its writes once, at its end, so the packet path
// touches the shared counters once per received packet, not once per subscriber.
type LatencyHistogram struct {
	counts [LatencyBuckets]atomic.Uint64
	sumNs  atomic.Uint64
}

// LatencySnapshot is a histogram's state: Counts[i] packets took at most LatencyBounds[i]
// (and more than the bound before it); the last bucket is everything slower.
type LatencySnapshot struct {
	Counts [LatencyBuckets]uint64
	Sum    time.Duration
}

// Snapshot reads the histogram.
func (h *LatencyHistogram) Snapshot() LatencySnapshot {
	var s LatencySnapshot
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = time.Duration(h.sumNs.Load())
	return s
}

// latencyTally gathers one fan-out's observations on the stack.
type latencyTally struct {
	counts [LatencyBuckets]uint32
	sumNs  int64
	n      int
}

func (t *latencyTally) observe(ns int64) {
	i := 0
	for i < len(LatencyBounds) && ns > int64(LatencyBounds[i]) {
		i++
	}
	t.counts[i]++
	t.sumNs += ns
	t.n++
}

// observeN counts n packets that each took ns.
func (t *latencyTally) observeN(n int, ns int64) {
	if n == 0 {
		return
	}
	i := 0
	for i < len(LatencyBounds) && ns > int64(LatencyBounds[i]) {
		i++
	}
	t.counts[i] += uint32(n)
	t.sumNs += ns * int64(n)
	t.n += n
}

// flush adds the tally to h.
func (t *latencyTally) flush(h *LatencyHistogram) {
	if h == nil || t.n == 0 {
		return
	}
	for i, c := range t.counts {
		if c != 0 {
			h.counts[i].Add(uint64(c))
		}
	}
	h.sumNs.Add(uint64(max(t.sumNs, 0)))
}
