package router

import (
	"testing"
	"time"
)

// TestSenderReportMapsTimestampsToNow: a sender report's RTP time is the last packet's
// timestamp carried forward at the clock rate to the report's NTP time, and its counts are
// what was sent.
func TestSenderReportMapsTimestampsToNow(t *testing.T) {
	src := newChanSource()
	r := NewReceiver(ReceiverConfig{TrackID: "a", Codec: opusCodec})
	w := &captureWriter{keep: true}
	dt := bindDownTrack(t, r, 4242, w)
	if _, ok := dt.SenderReport(time.Now()); ok {
		t.Fatal("sender report before any packet")
	}
	if err := r.AddLayer(0, 1, src); err != nil {
		t.Fatal(err)
	}
	payload := []byte{1, 2, 3, 4, 5}
	for s := 0; s < 5; s++ {
		src.ch <- makePacket(111, uint16(s), uint32(s*960), 1, payload)
	}
	waitFor(t, "forwarding", func() bool { return w.count.Load() == 5 })
	last := w.snapshot()[4].Timestamp
	time.Sleep(100 * time.Millisecond)
	before := time.Now()
	sr, ok := dt.SenderReport(before)
	if !ok {
		t.Fatal("no sender report after packets")
	}
	if sr.SSRC != 4242 || sr.PacketCount != 5 || sr.OctetCount != 5*uint32(len(payload)) {
		t.Fatalf("sender report %+v: want ssrc 4242, 5 packets, %d octets", sr, 5*len(payload))
	}
	if sr.NTPTime != ntpTime(before) {
		t.Fatalf("NTP time %x, want %x", sr.NTPTime, ntpTime(before))
	}
	// At least the 100 ms slept (4800 ticks at 48 kHz) past the last packet, and not
	// seconds more.
	if adv := sr.RTPTime - last; adv < 4800 || adv > 48000 {
		t.Fatalf("RTP time %d is %d ticks past the last packet's %d", sr.RTPTime, adv, last)
	}
	dt.Close()
	if _, ok := dt.SenderReport(time.Now()); ok {
		t.Fatal("sender report after close")
	}
}
