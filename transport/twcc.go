package transport

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/cascade-sfu/cascade/bwe"
)

// FeedbackListener receives what a subscriber's feedback says about the packets sent to it.
// Calls come from the connection's RTCP reading goroutines.
type FeedbackListener interface {
	// OnTransportFeedback reports one transport-wide feedback packet's worth of packets, in
	// sequence order (draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1).
	OnTransportFeedback(results []bwe.PacketResult)
	// OnREMB reports a receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb).
	OnREMB(bps int)
}

// sentLogSize is how many packets are remembered for matching feedback: about 1.6 s at
// 2500 packets per second, where feedback comes every 50-100 ms. It is a power of two.
const sentLogSize = 1 << 12

// sentPacket is one sent packet's log entry. Each slot has one writer at a time (the one
// that drew its sequence number) and is read by the feedback path without a lock, as a
// sequence lock: the writer clears meta, stores at, then stores meta; a reader loads meta,
// at, and meta again, and takes the entry only if both loads of meta are the same valid
// value, so it never pairs one packet's size with another's send time.
type sentPacket struct {
	at   atomic.Int64  // unix ns
	meta atomic.Uint64 // sentValid | probe<<1 | size<<16 | seq<<48
}

const (
	sentValid = 1 << 0
	sentProbe = 1 << 1
)

func sentMeta(seq uint16, size int, probe bool) uint64 {
	m := uint64(sentValid) | uint64(uint32(size))<<16 | uint64(seq)<<48
	if probe {
		m |= sentProbe
	}
	return m
}

// congestionInterceptor stamps every RTP packet a subscriber connection sends with a
// transport-wide sequence number, remembers when and how large it was, and turns the
// subscriber's feedback into per-packet results for the bandwidth estimator. One exists
// per subscriber connection. It replaces pion's header-extension interceptor, which
// allocates per packet.
type congestionInterceptor struct {
	interceptor.NoOp
	listener FeedbackListener
	seq      atomic.Uint32
	probing  atomic.Bool
	// recentFB identifies the feedback packets taken lately. pion hands an RTCP compound
	// packet to the read stream of every sender it names, so one feedback packet can come
	// through several readers, in any order; the estimator must see it once.
	fbMu     sync.Mutex
	recentFB [16]uint64
	nextFB   int

	sent [sentLogSize]sentPacket

	// extBufs holds the 2-byte extension values: a packet's value lives in the slot of its
	// sequence number, which is not reused until long after the packet is marshalled.
	extBufs [sentLogSize * 2]byte
}

type congestionFactory struct{ ci *congestionInterceptor }

func (f congestionFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.ci, nil }

func (c *congestionInterceptor) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == ExtTWCC {
			id = uint8(e.ID)
		}
	}
	if id == 0 {
		return writer
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if err := c.stamp(h, id, len(payload)); err != nil {
			return 0, err
		}
		return writer.Write(h, payload, a)
	})
}

// stamp gives a packet about to be sent the next transport-wide sequence number (extension
// id) and logs its size and send time.
func (c *congestionInterceptor) stamp(h *rtp.Header, id uint8, payloadLen int) error {
	seq := uint16(c.seq.Add(1) - 1)
	slot := int(seq) & (sentLogSize - 1)
	ext := c.extBufs[slot*2 : slot*2+2 : slot*2+2]
	binary.BigEndian.PutUint16(ext, seq)
	if err := h.SetExtension(id, ext); err != nil {
		return err
	}
	size := h.MarshalSize() + payloadLen + int(h.PaddingSize)
	sp := &c.sent[slot]
	sp.meta.Store(0)
	sp.at.Store(time.Now().UnixNano())
	sp.meta.Store(sentMeta(seq, size, c.probing.Load()))
	return nil
}

func (c *congestionInterceptor) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		if attr == nil {
			attr = interceptor.Attributes{}
		}
		pkts, perr := attr.GetRTCPPackets(b[:n])
		if perr != nil {
			return n, attr, nil
		}
		c.handleRTCP(pkts)
		return n, attr, nil
	})
}

// handleRTCP passes what a subscriber's RTCP says about the downlink to the listener.
func (c *congestionInterceptor) handleRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.TransportLayerCC:
			if res := c.results(p); len(res) > 0 && c.listener != nil {
				c.listener.OnTransportFeedback(res)
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if c.listener != nil {
				c.listener.OnREMB(int(p.Bitrate))
			}
		}
	}
}

// firstSight reports whether feedback packet id was not taken lately, and remembers it.
func (c *congestionInterceptor) firstSight(id uint64) bool {
	c.fbMu.Lock()
	defer c.fbMu.Unlock()
	for _, r := range c.recentFB {
		if r == id {
			return false
		}
	}
	c.recentFB[c.nextFB] = id
	c.nextFB = (c.nextFB + 1) % len(c.recentFB)
	return true
}

// results matches a feedback packet against the sent log.
func (c *congestionInterceptor) results(fb *rtcp.TransportLayerCC) []bwe.PacketResult {
	count := int(fb.PacketStatusCount)
	if count == 0 || count > sentLogSize/2 {
		return nil
	}
	if !c.firstSight(uint64(fb.FbPktCount)<<48 | uint64(fb.BaseSequenceNumber)<<32 | uint64(fb.PacketStatusCount)<<16 | 1) {
		return nil // the same feedback packet again, from another sender's reader
	}
	statuses := make([]uint16, 0, count)
	for _, ch := range fb.PacketChunks {
		switch ch := ch.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(ch.RunLength) && len(statuses) < count; i++ {
				statuses = append(statuses, ch.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range ch.SymbolList {
				if len(statuses) == count {
					break
				}
				statuses = append(statuses, s)
			}
		}
	}
	// Arrival times are on the receiver's clock: only their differences matter.
	arrival := time.Unix(0, 0).Add(time.Duration(fb.ReferenceTime) * 64 * time.Millisecond)
	out := make([]bwe.PacketResult, 0, len(statuses))
	d := 0
	for i, s := range statuses {
		seq := fb.BaseSequenceNumber + uint16(i)
		received := s == rtcp.TypeTCCPacketReceivedSmallDelta || s == rtcp.TypeTCCPacketReceivedLargeDelta
		if received {
			if d >= len(fb.RecvDeltas) {
				break
			}
			arrival = arrival.Add(time.Duration(fb.RecvDeltas[d].Delta) * time.Microsecond)
			d++
		}
		sp := &c.sent[int(seq)&(sentLogSize-1)]
		meta := sp.meta.Load()
		at := sp.at.Load()
		if meta&sentValid == 0 || uint16(meta>>48) != seq || sp.meta.Load() != meta {
			continue // never sent, overwritten, or being overwritten
		}
		out = append(out, bwe.PacketResult{SendTime: time.Unix(0, at), Size: int(uint32(meta >> 16)), Received: received,
			Arrival: arrival, Probe: meta&sentProbe != 0})
	}
	return out
}
