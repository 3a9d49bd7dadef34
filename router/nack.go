package router

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/cascade-sfu/cascade/simulcast"
)

const (
	histSize = 1024 // forwarded packets remembered per down track, power of two
	// maxResends caps retransmissions of one packet to one subscriber, so a congested
	// link does not turn NACKs into a retransmission storm.
	maxResends = 3
	// minResendGap is the floor on the time between two resends of one packet; the
	// measured round-trip time raises it.
	minResendGap = 20 * time.Millisecond
)

type histEntry struct {
	vp8    simulcast.VP8Rewrite // the descriptor rewrite the packet went out with
	srcExt uint64
	outTS  uint32
	layer  int8
	seq    uint16 // output sequence number, to detect a stale entry
	valid  bool
	sends  uint8
	lastNs int64
}

// history maps output sequence numbers back to the source packet, for NACKs.
type history struct {
	entries [histSize]histEntry
}

func (h *history) record(seq uint16, e histEntry) {
	e.seq = seq
	e.valid = true
	h.entries[seq&(histSize-1)] = e
}

// rtxState is the retransmission path's scratch, used from the subscriber's RTCP reader.
type rtxState struct {
	mu  sync.Mutex // guards buf and hdr
	buf []byte
	hdr rtp.Header
	ph  Header
}

func (r *rtxState) init() { r.buf = make([]byte, MaxPacketSize) }

// HandleRTCP processes RTCP from the subscriber about this down track: NACKs are answered
// from the publisher's ring, PLI/FIR become (merged) keyframe requests, receiver reports
// update the loss and round-trip view.
func (d *DownTrack) HandleRTCP(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.TransportLayerNack:
			if p.MediaSSRC != d.ssrc {
				continue
			}
			d.nacks.Add(1)
			for _, pair := range p.Nacks {
				pair.Range(func(seq uint16) bool {
					d.retransmit(seq)
					return true
				})
			}
		case *rtcp.PictureLossIndication:
			if p.MediaSSRC == d.ssrc {
				d.keyframeRequested()
			}
		case *rtcp.FullIntraRequest:
			if p.MediaSSRC == d.ssrc || len(p.FIR) > 0 && p.FIR[0].SSRC == d.ssrc {
				d.keyframeRequested()
			}
		case *rtcp.ReceiverReport:
			for _, rr := range p.Reports {
				if rr.SSRC == d.ssrc {
					d.updateFromReport(rr)
				}
			}
		case *rtcp.SenderReport:
			for _, rr := range p.Reports {
				if rr.SSRC == d.ssrc {
					d.updateFromReport(rr)
				}
			}
		}
	}
}

// keyframeRequested passes a subscriber's PLI or FIR to the publisher, for the layer the
// subscriber is about to get: a switch in progress will bring a keyframe of the target.
func (d *DownTrack) keyframeRequested() {
	d.plis.Add(1)
	d.recv.RequestKeyframe(d.TargetLayer())
}

func (d *DownTrack) updateFromReport(rr rtcp.ReceptionReport) {
	d.fractionLost.Store(uint32(rr.FractionLost))
	d.jitter.Store(rr.Jitter)
	if rr.LastSenderReport == 0 {
		return
	}
	// RFC 3550 section 6.4.1: RTT = A - LSR - DLSR in 1/65536 s units, with A the middle
	// 32 bits of the NTP time the report arrived.
	now := ntpMiddle(time.Now())
	rtt := now - rr.LastSenderReport - rr.Delay
	if int32(rtt) > 0 && rtt < 10*65536 {
		d.rttMicros.Store(int64(rtt) * 1_000_000 / 65536)
	}
}

func ntpMiddle(t time.Time) uint32 { return uint32(ntpTime(t) >> 16) }

// ntpTime is t as a 64-bit NTP timestamp (RFC 3550 section 4).
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// retransmit resends output packet seq from the publisher's ring, if it is still there and
// has not been resent too often or too recently.
//
// The resend keeps the packet's sequence number on the same stream, so SRTP seals it under
// the same index as the original, while its transport-wide sequence number is new: under
// AES-GCM that is one nonce over two different plaintexts. Resending the original bytes
// instead confused the subscribers' transport-wide feedback (a late number reported again)
// and with it bandwidth estimation; RTX (RFC 4588: a repair stream with numbers of its own)
// removes both and is not negotiated yet.
func (d *DownTrack) retransmit(seq uint16) {
	if !d.bound.Load() || d.closed.Load() {
		return
	}
	now := monoNow()
	gap := int64(minResendGap)
	if rtt := d.rttMicros.Load() * 1000; rtt > gap {
		gap = rtt
	}
	d.mu.Lock()
	e := &d.hist.entries[seq&(histSize-1)]
	if !e.valid || e.seq != seq || e.sends >= maxResends || (e.lastNs != 0 && now-e.lastNs < gap) {
		d.mu.Unlock()
		return
	}
	e.sends++
	e.lastNs = now
	entry := *e
	d.mu.Unlock()

	d.rtx.mu.Lock()
	defer d.rtx.mu.Unlock()
	n := d.recv.getPacket(entry.layer, entry.srcExt, d.rtx.buf)
	if n == 0 {
		return
	}
	if err := ParseHeader(d.rtx.buf[:n], 0, &d.rtx.ph); err != nil {
		return
	}
	d.fillHeader(&d.rtx.hdr, &d.rtx.ph, seq, entry.outTS)
	payload := d.rtx.buf[d.rtx.ph.HeaderLen : d.rtx.ph.HeaderLen+d.rtx.ph.PayloadLen]
	if entry.vp8.Active() {
		// The copy is ours: rewrite it in place as it was first sent.
		if _, err := entry.vp8.Apply(payload, payload); err != nil {
			return
		}
	}
	if _, err := d.writer.WriteRTP(&d.rtx.hdr, payload); err == nil {
		d.retransmits.Add(1)
		d.payloadBytes.Add(uint64(len(payload)))
	}
}
