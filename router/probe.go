package router

import "time"

// probePadding is the padding carried by one probe packet: RTP padding is at most 255
// bytes (RFC 3550 section 5.1, the count is one byte).
const probePadding = 255

// WriteProbe sends n padding-only packets for bandwidth probing and returns the bytes
// written. Each takes a sequence number of its own between two frames (see
// simulcast.Selector.ReservePadding), so the subscriber's SRTP replay protection accepts
// it and its transport-wide feedback reports it, and media continues after it. It sends
// nothing (returns 0) while a frame is being forwarded; the caller tries again or another
// track.
func (d *DownTrack) WriteProbe(n int) int {
	if n <= 0 || !d.bound.Load() || d.closed.Load() || d.codec.Kind != KindVideo {
		return 0
	}
	// The padding is written before the lock is released, so media numbered after it is
	// also written after it and the subscriber sees the numbers in order.
	d.mu.Lock()
	defer d.mu.Unlock()
	first, ts, ok := d.sel.ReservePadding(n)
	if !ok {
		return 0
	}
	d.rtx.mu.Lock()
	defer d.rtx.mu.Unlock()
	h := &d.rtx.hdr
	total, sent := 0, 0
	for i := 0; i < n; i++ {
		// A failed write (the connection is closing) leaves its number unused.
		d.fillHeader(h, &Header{PaddingLen: probePadding}, first+uint16(i), ts)
		if w, err := d.writer.WriteRTP(h, nil); err == nil {
			total += w
			sent++
		}
	}
	d.probes.Add(uint64(sent))
	return total
}

// probeInterval paces probe packets.
const probeInterval = 5 * time.Millisecond

// ProbeInterval is how often the owner of a probe should call WriteProbe.
func ProbeInterval() time.Duration { return probeInterval }
