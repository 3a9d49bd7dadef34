package router

import (
	"time"

	"github.com/pion/rtcp"
)

// SenderReport describes what the down track has sent, for the RTCP sender report the
// subscriber connection sends about it (RFC 3550 section 6.4.1): the NTP time of now, the
// RTP timestamp of the same instant, continued from the last packet sent at the codec's
// clock rate (the mapping a receiver uses to synchronise a publisher's audio and video,
// whose down tracks map their timestamps to arrival times alike), and the packet and
// payload octet counts. ok is false before the first packet and once the track is gone.
func (d *DownTrack) SenderReport(now time.Time) (sr rtcp.SenderReport, ok bool) {
	if !d.bound.Load() || d.closed.Load() {
		return sr, false
	}
	mono := monoNow()
	d.mu.Lock()
	ts, at, started := d.sel.LastSent()
	d.mu.Unlock()
	if !started {
		return sr, false
	}
	if elapsed := mono - at; elapsed > 0 {
		ts += uint32(uint64(elapsed) * uint64(d.codec.ClockRate) / uint64(time.Second))
	}
	return rtcp.SenderReport{
		SSRC:        d.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     ts,
		PacketCount: uint32(d.packets.Load() + d.retransmits.Load() + d.probes.Load()),
		OctetCount:  uint32(d.payloadBytes.Load()),
	}, true
}
