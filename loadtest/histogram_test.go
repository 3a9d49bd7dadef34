package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 1 << 20, 1<<40 + 12345, math.MaxUint64 >> 1} {
		b := bucketOf(us)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", us, b, prev, histBuckets)
		}
		prev = b
		mid := bucketMid(b)
		if us >= histSub && math.Abs(mid-float64(us))/float64(us) > 1.0/histSub {
			t.Fatalf("bucket %d of %d µs has middle %.0f", b, us, mid)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h, a, b histogram
	if h.quantile(0.5) != 0 {
		t.Fatal("empty histogram has a median")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var all []float64
	for i := 0; i < 20000; i++ {
		d := time.Duration(r.ExpFloat64() * float64(3*time.Millisecond))
		all = append(all, float64(d)/float64(time.Millisecond))
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	h.merge(&a)
	h.merge(&b)
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.95, 0.99, 1} {
		want := all[int(q*float64(len(all)-1))]
		got := h.quantile(q)
		if math.Abs(got-want) > 0.02*want+0.001 {
			t.Errorf("q%.2f = %.3f ms, want %.3f", q, got, want)
		}
	}
	if h.n != 20000 {
		t.Fatalf("n = %d", h.n)
	}
}
