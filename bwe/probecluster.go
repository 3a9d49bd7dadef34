package bwe

import "time"

const (
	probeMinPackets = 5
	// probeMinSpan is how much of a cluster must have arrived before it proves a rate.
	probeMinSpan = 150 * time.Millisecond
	// probeOveruseSpan is how much of a cluster must have arrived for its arrival rate to
	// set what an overuse cuts back to.
	probeOveruseSpan = 100 * time.Millisecond
	// probeUtilization discounts what a probe proved, so the estimate sits a little under the
	// rate that got through.
	probeUtilization = 0.95
	// probeMaxArrivals bounds what one cluster remembers (a 250 ms probe at 20 Mbit/s of
	// 300-byte packets is about 2000 packets; later ones are not needed to measure it).
	probeMaxArrivals = 2048
	// probeClusterGap: a probe packet sent this long after the last one of a cluster
	// belongs to the next cluster (probe packets go out every few milliseconds, clusters
	// a second or more apart).
	probeClusterGap = 100 * time.Millisecond
)

// probeCluster accumulates the packets of one probe as feedback reports them; a cluster may
// span several reports.
type probeCluster struct {
	n, bytes            int
	firstSend, lastSend time.Time
	lastSendSize        int // the last-sent packet's size: it ends the send span, adds nothing to it
	arrivals            []arrival
}

type arrival struct {
	at   time.Time
	size int
}

func (c *probeCluster) reset() {
	arr := c.arrivals[:0]
	*c = probeCluster{arrivals: arr}
}

func (c *probeCluster) add(r PacketResult) {
	if c.n == 0 || r.SendTime.Before(c.firstSend) {
		c.firstSend = r.SendTime
	}
	if c.n == 0 || !r.SendTime.Before(c.lastSend) {
		c.lastSend, c.lastSendSize = r.SendTime, r.Size
	}
	c.bytes += r.Size
	c.n++
	if len(c.arrivals) < probeMaxArrivals {
		c.arrivals = append(c.arrivals, arrival{at: r.Arrival, size: r.Size})
	}
}

// sendRate is the rate the cluster was sent at.
func (c *probeCluster) sendRate() float64 {
	span := c.lastSend.Sub(c.firstSend)
	if c.n < probeMinPackets || span <= 0 {
		return 0
	}
	return float64((c.bytes-c.lastSendSize)*8) / span.Seconds()
}

// recvRate is the rate the cluster arrived at, measured over the last two thirds of its
// arrivals: a bottleneck's token bucket lets its first few kilobytes through at once, which
// over the whole of a short cluster reads as far more than the link carries. It is 0 while
// less than minSpan of arrivals is known.
func (c *probeCluster) recvRate(minSpan time.Duration) float64 {
	if len(c.arrivals) < probeMinPackets {
		return 0
	}
	first, last := c.arrivals[0].at, c.arrivals[0].at
	for _, a := range c.arrivals {
		first, last = minTime(first, a.at), maxTime(last, a.at)
	}
	if last.Sub(first) < minSpan {
		return 0
	}
	from := first.Add(last.Sub(first) / 3)
	var start time.Time
	bytes, n, startSize := 0, 0, 0
	for _, a := range c.arrivals {
		if a.at.Before(from) {
			continue
		}
		if n == 0 || a.at.Before(start) {
			start, startSize = a.at, a.size
		}
		bytes += a.size
		n++
	}
	span := last.Sub(start)
	if n < probeMinPackets || span <= 0 {
		return 0
	}
	// The packet that opens the window only marks its start.
	return float64((bytes-startSize)*8) / span.Seconds()
}

// rate is the bitrate the cluster proves, 0 while too little of it has arrived: the lower
// of the rate it was sent at and the rate it arrived at (a bottleneck that could not carry
// it spreads the arrivals out), as libwebrtc's probe bitrate estimator takes it.
func (c *probeCluster) rate() float64 {
	recv := c.recvRate(probeMinSpan)
	if recv == 0 {
		return 0
	}
	return min(c.sendRate(), recv)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
