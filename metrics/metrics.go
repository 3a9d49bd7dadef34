// Package metrics is a node's Prometheus instrumentation: process CPU and memory, the Go
// runtime, and what the node forwards. The registry is passed in (node owns it and serves it
// on /metrics), so tests and embedders can run several nodes in one process.
//
// Forwarding counters are not incremented on the packet path: each scrape reads the
// counters the router already keeps per stream and folds their growth since the last scrape
// into monotonic totals. A stream that ends between two scrapes loses at most its last
// interval's growth; the per-packet path pays nothing for metrics.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Cascade metric.
const Namespace = "cascade"

// StreamCounters are one stream's counters since it started. Key identifies the stream for
// as long as it lives (a pointer, or a struct of one and a layer) and must be comparable.
type StreamCounters struct {
	Key         any
	Packets     uint64
	Bytes       uint64
	Retransmits uint64 // forwarded streams: packets resent on NACK
	NACKs       uint64 // forwarded streams: NACK messages received
	PLIs        uint64 // forwarded streams: PLI/FIR received
}

// Snapshot is the node's state at one scrape.
type Snapshot struct {
	Rooms, Participants, PublishedTracks, DownTracks int
	Received                                         []StreamCounters // per received RTP stream (publisher layer)
	Forwarded                                        []StreamCounters // per down track
	// ForwardingLatency is how long forwarded packets spent inside the SFU, since it
	// started; nil when not measured.
	ForwardingLatency *Histogram
	// SendPath holds the direct send path's totals since the node started.
	SendPath SendPathCounters
}

// SendPathCounters are the direct send path's totals (they only grow).
type SendPathCounters struct {
	DirectPackets, RTCPTaken, RTCPDropped, PionPath, SendErrors uint64
}

// Histogram is a latency histogram in seconds: Counts[i] observations at most Bounds[i]
// (and above the bound before it), Counts[len(Bounds)] everything above the last bound.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// Source reads a node's counters. Snapshot appends to the slices of s (which arrive empty,
// their storage reused between scrapes) and sets the counts.
type Source interface {
	Snapshot(s *Snapshot)
}

// Register adds the process, Go runtime and forwarding collectors to reg.
func Register(reg prometheus.Registerer, src Source) error {
	for _, c := range []prometheus.Collector{
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		newForwarding(src),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves g in the Prometheus text format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

// forwarding is the collector of the node's own counters.
type forwarding struct {
	src Source

	mu    sync.Mutex // guards everything below: scrapes may run concurrently
	snap  Snapshot
	recv  accumulator
	fwd   accumulator
	descs descs
}

type descs struct {
	rooms, participants, tracks, downTracks        *prometheus.Desc
	recvPackets, recvBytes                         *prometheus.Desc
	fwdPackets, fwdBytes, retransmits, nacks, plis *prometheus.Desc
	latency                                        *prometheus.Desc
	direct, rtcpTaken, rtcpDropped, pionPath       *prometheus.Desc
	sendErrors                                     *prometheus.Desc
}

func newForwarding(src Source) *forwarding {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, nil, nil)
	}
	return &forwarding{
		src:  src,
		recv: accumulator{last: map[any]StreamCounters{}},
		fwd:  accumulator{last: map[any]StreamCounters{}},
		descs: descs{
			rooms:        d("rooms", "Rooms open on this node."),
			participants: d("participants", "Participants connected to this node."),
			tracks:       d("published_tracks", "Published tracks whose media reached this node."),
			downTracks:   d("down_tracks", "Subscriptions being forwarded (one per track and subscriber)."),
			recvPackets:  d("received_packets_total", "RTP packets received from publishers."),
			recvBytes:    d("received_bytes_total", "RTP bytes received from publishers (after SRTP)."),
			fwdPackets:   d("forwarded_packets_total", "RTP packets forwarded to subscribers, retransmissions excluded."),
			fwdBytes:     d("forwarded_bytes_total", "RTP bytes forwarded to subscribers (before SRTP)."),
			retransmits:  d("retransmitted_packets_total", "RTP packets resent to subscribers on NACK."),
			nacks:        d("nacks_received_total", "NACK messages received from subscribers."),
			plis:         d("keyframe_requests_received_total", "PLI and FIR messages received from subscribers."),
			direct:       d("direct_sent_packets_total", "RTP packets sent to subscribers through the direct send path (SRTP and sendmmsg from the node's own sockets)."),
			rtcpTaken:    d("subscriber_rtcp_packets_total", "Subscriber RTCP packets read and decrypted off the node's sockets by the direct send path."),
			rtcpDropped:  d("subscriber_rtcp_dropped_total", "Of those, dropped: replayed, malformed, or over the connection's queue."),
			pionPath:     d("pion_path_connections_total", "Subscriber connections whose media took pion's send path instead of the direct one."),
			sendErrors:   d("send_errors_total", "Datagrams the node's sockets refused on the direct send path."),
			latency: d("forwarding_latency_seconds", "Time forwarded packets spent inside the SFU, from the router "+
				"having the decrypted packet to the return of its encrypted write to one subscriber."),
		},
	}
}

// Describe implements prometheus.Collector.
func (f *forwarding) Describe(ch chan<- *prometheus.Desc) {
	d := &f.descs
	for _, x := range []*prometheus.Desc{d.rooms, d.participants, d.tracks, d.downTracks, d.recvPackets,
		d.recvBytes, d.fwdPackets, d.fwdBytes, d.retransmits, d.nacks, d.plis, d.latency,
		d.direct, d.rtcpTaken, d.rtcpDropped, d.pionPath, d.sendErrors} {
		ch <- x
	}
}

// Collect implements prometheus.Collector.
func (f *forwarding) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	s := &f.snap
	*s = Snapshot{Received: s.Received[:0], Forwarded: s.Forwarded[:0]}
	f.src.Snapshot(s)
	recv := f.recv.fold(s.Received)
	fwd := f.fwd.fold(s.Forwarded)
	counts := [4]int{s.Rooms, s.Participants, s.PublishedTracks, s.DownTracks}
	lat := s.ForwardingLatency
	sp := s.SendPath
	// Drop the keys so the reused slices do not keep ended streams alive.
	clear(s.Received)
	clear(s.Forwarded)
	f.mu.Unlock()

	d := &f.descs
	gauge := func(desc *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(v))
	}
	counter := func(desc *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v))
	}
	gauge(d.rooms, counts[0])
	gauge(d.participants, counts[1])
	gauge(d.tracks, counts[2])
	gauge(d.downTracks, counts[3])
	counter(d.recvPackets, recv.Packets)
	counter(d.recvBytes, recv.Bytes)
	counter(d.fwdPackets, fwd.Packets)
	counter(d.fwdBytes, fwd.Bytes)
	counter(d.retransmits, fwd.Retransmits)
	counter(d.nacks, fwd.NACKs)
	counter(d.plis, fwd.PLIs)
	counter(d.direct, sp.DirectPackets)
	counter(d.rtcpTaken, sp.RTCPTaken)
	counter(d.rtcpDropped, sp.RTCPDropped)
	counter(d.pionPath, sp.PionPath)
	counter(d.sendErrors, sp.SendErrors)
	if lat != nil {
		ch <- lat.metric(d.latency)
	}
}

// metric is h as a Prometheus histogram (cumulative buckets).
func (h *Histogram) metric(desc *prometheus.Desc) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.Bounds))
	var total uint64
	for i, c := range h.Counts {
		total += c
		if i < len(h.Bounds) {
			buckets[h.Bounds[i]] = total
		}
	}
	return prometheus.MustNewConstHistogram(desc, total, h.Sum, buckets)
}

// accumulator turns per-stream counters, which vanish when their stream ends, into totals
// that only grow.
type accumulator struct {
	last  map[any]StreamCounters // each live stream's counters at the previous fold
	total StreamCounters
}

// fold adds each stream's growth since the previous fold to the totals, forgets streams that
// are gone, and returns the totals.
func (a *accumulator) fold(now []StreamCounters) StreamCounters {
	next := make(map[any]StreamCounters, len(now))
	for _, c := range now {
		p := a.last[c.Key] // zero for a stream new since the last fold
		a.total.Packets += grow(p.Packets, c.Packets)
		a.total.Bytes += grow(p.Bytes, c.Bytes)
		a.total.Retransmits += grow(p.Retransmits, c.Retransmits)
		a.total.NACKs += grow(p.NACKs, c.NACKs)
		a.total.PLIs += grow(p.PLIs, c.PLIs)
		next[c.Key] = c
	}
	a.last = next
	return a.total
}

// grow is how much a counter grew; a counter that went backwards restarted.
func grow(prev, cur uint64) uint64 {
	if cur >= prev {
		return cur - prev
	}
	return cur
}
