package loadtest

import (
	"math/bits"
	"time"
)

// histogram counts durations in buckets of at most 1/64 (1.6 %) relative width, from 1 µs to
// over 18 hours, in a fixed array: recording is a few instructions and never allocates, and
// histograms merge by adding counts. Not safe for concurrent use.
type histogram struct {
	counts [histBuckets]uint32
	n      uint64
	max    time.Duration
}

const (
	histSubBits = 6 // 64 linear sub-buckets per power of two
	histSub     = 1 << histSubBits
	histBuckets = histSub * (64 - histSubBits + 1)
)

// bucketOf maps microseconds to a bucket: values below 64 have their own; above, each power
// of two is split into 64 equal parts.
func bucketOf(us uint64) int {
	if us < histSub {
		return int(us)
	}
	shift := bits.Len64(us) - histSubBits - 1
	return (shift+1)*histSub + int(us>>shift) - histSub
}

// bucketMid is the middle of a bucket, in microseconds.
func bucketMid(b int) float64 {
	if b < histSub {
		return float64(b)
	}
	shift := b/histSub - 1
	lo := uint64(b%histSub+histSub) << shift
	return float64(lo) + float64(uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0 // clocks of one machine; a negative latency is rounding
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0..1) in milliseconds, or 0 with no samples.
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			return min(bucketMid(i)/1000, float64(h.max)/float64(time.Millisecond))
		}
	}
	return float64(h.max) / float64(time.Millisecond)
}
