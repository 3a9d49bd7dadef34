package router

import "time"

// probePadding is the padding carried by one probe packet: RTP padding is at most 255
// bytes (RFC 3550 section 5.1, the count is one byte).
const probePadding = 255

// WriteProbe sends n padding-only packets for bandwidth probing. They repeat the sequence
// number and timestamp of the last packet sent, so the subscriber discards them as
// duplicates while its transport-wide feedback still reports them. It returns the bytes
// written.
func (d *DownTrack) WriteProbe(n int) int {
	if n <= 0 || !d.bound.Load() || d.closed.Load() || d.codec.Kind != KindVideo {
		return 0
	}
	// Before the first media packet LastOut is the number just below the first one, so a
	// probe then is simply followed by media in sequence.
	d.mu.Lock()
	seq, ts := d.sel.LastOut()
	d.mu.Unlock()
	d.rtx.mu.Lock()
	defer d.rtx.mu.Unlock()
	h := &d.rtx.hdr
	d.fillHeader(h, &Header{PaddingLen: probePadding}, seq, ts)
	total := 0
	for i := 0; i < n; i++ {
		w, err := d.writer.WriteRTP(h, nil)
		if err != nil {
			break
		}
		total += w
	}
	d.probes.Add(uint64(n))
	return total
}

// probeInterval paces probe packets.
const probeInterval = 5 * time.Millisecond

// ProbeInterval is how often the owner of a probe should call WriteProbe.
func ProbeInterval() time.Duration { return probeInterval }
