package node

import (
	"github.com/cascade-sfu/cascade/metrics"
	"github.com/cascade-sfu/cascade/router"
	"github.com/cascade-sfu/cascade/sfu"
	"github.com/cascade-sfu/cascade/transport"
)

// metricsSource reads the SFU's per-stream counters and the transport's send path totals
// for the metrics collector.
type metricsSource struct {
	sfu *sfu.SFU
	tr  *transport.Transport
}

// layerKey names one received layer of one receiver for as long as the receiver lives.
type layerKey struct {
	r     *router.Receiver
	layer int8
}

// Snapshot implements metrics.Source.
func (m metricsSource) Snapshot(s *metrics.Snapshot) {
	c := m.sfu.VisitReceivers(func(r *router.Receiver) {
		for _, l := range r.Stats() {
			s.Received = append(s.Received, metrics.StreamCounters{Key: layerKey{r, l.Layer}, Packets: l.Packets, Bytes: l.Bytes})
		}
		for _, dt := range r.DownTracks() {
			st := dt.Stats()
			s.Forwarded = append(s.Forwarded, metrics.StreamCounters{Key: dt, Packets: st.Packets, Bytes: st.Bytes,
				Retransmits: st.Retransmits, NACKs: st.NACKs, PLIs: st.PLIs})
		}
	})
	s.Rooms, s.Participants, s.PublishedTracks, s.DownTracks = c.Rooms, c.Participants, c.PublishedTracks, len(s.Forwarded)
	lat := m.sfu.ForwardingLatency()
	h := &metrics.Histogram{Bounds: make([]float64, len(router.LatencyBounds)), Counts: lat.Counts[:], Sum: lat.Sum.Seconds()}
	for i, b := range router.LatencyBounds {
		h.Bounds[i] = b.Seconds()
	}
	s.ForwardingLatency = h
	st := m.tr.SendStats()
	s.SendPath = metrics.SendPathCounters{DirectPackets: st.DirectPackets.Load(), RTCPTaken: st.RTCPTaken.Load(),
		RTCPDropped: st.RTCPDropped.Load(), PionPath: st.PionPath.Load(), SendErrors: m.tr.SendErrors()}
}
