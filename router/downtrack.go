package router

import (
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/simulcast"
)

// DownTrackListener hears about a down track's life. Calls are never made under a router
// lock.
type DownTrackListener interface {
	// OnDownTrackClosed is called once when the publisher's track went away.
	OnDownTrackClosed(dt *DownTrack)
}

// DownTrackConfig describes one subscription.
type DownTrackConfig struct {
	// ID is the track id the subscriber sees (the published track's sid).
	ID string
	// StreamID is the msid stream id the subscriber sees.
	StreamID string
	Receiver *Receiver
	Listener DownTrackListener
	// Writer, when set, wraps the writer pion gives the down track when it is bound to the
	// subscriber's connection (the connection's direct send path).
	Writer func(ctx webrtc.TrackLocalContext, w webrtc.TrackLocalWriter) webrtc.TrackLocalWriter
}

// Batch holds the packets a forwarding goroutine writes during one packet's fan-out, so
// they leave together; the goroutine flushes it when the fan-out ends.
type Batch = interface{ Flush() }

// BatchWriter is a down track writer that can queue a packet in a Batch instead of sending
// it at once. The writer copies what it needs before returning.
type BatchWriter interface {
	WriteRTPBatch(b interface{ Flush() }, h *rtp.Header, payload []byte) (int, error)
}

// DownTrack forwards one published track to one subscriber. It implements
// webrtc.TrackLocal, so it is added to the subscriber's PeerConnection like any track, and
// rewrites SSRC, payload type, sequence numbers and timestamps of what it forwards.
type DownTrack struct {
	// What the fan-out reads or writes for every packet comes first, so that it shares a
	// few cache lines: with hundreds of down tracks a packet's fan-out otherwise misses the
	// cache on each one's flags, scratch header and counters, all far apart.
	bound   atomic.Bool
	closed  atomic.Bool
	paused  atomic.Bool  // forward nothing (no bandwidth, or the subscriber hid the track)
	current atomic.Int32 // layer being forwarded (simulcast.NoLayer before the first packet)
	target  atomic.Int32 // layer wanted; switches at its next keyframe
	// Set in Bind, before bound is set; read by the forwarding goroutines after they see bound.
	ssrc    uint32
	pt      uint8
	writer  webrtc.TrackLocalWriter
	bwriter BatchWriter // writer, when it can batch
	// temporalCap is the subscriber's temporal layer cap; while a switch down waits for
	// the lower layer's keyframe the selector runs at temporal layer 0.
	temporalCap uint8

	packets      atomic.Uint64
	bytes        atomic.Uint64
	payloadBytes atomic.Uint64 // payload octets sent, retransmissions included (sender reports)

	// hdrs[l] and payloads[l] are the header and rewritten-payload scratch of layer l's read
	// goroutine: only that goroutine touches them, so writes need no lock.
	hdrs     [simulcast.MaxLayers]rtp.Header
	payloads [simulcast.MaxLayers][]byte

	mu  sync.Mutex // guards sel and hist
	sel simulcast.Selector

	id, streamID string
	recv         *Receiver
	codec        Codec
	listener     DownTrackListener
	wrap         func(webrtc.TrackLocalContext, webrtc.TrackLocalWriter) webrtc.TrackLocalWriter
	maxPref      atomic.Int32 // highest layer the subscriber wants

	retransmits atomic.Uint64
	plis        atomic.Uint64
	nacks       atomic.Uint64
	probes      atomic.Uint64
	// Receiver-report view of the subscriber's downlink.
	fractionLost atomic.Uint32 // 0..255 (RFC 3550 section 6.4.1)
	rttMicros    atomic.Int64
	jitter       atomic.Uint32

	rtx  rtxState // retransmission scratch, guarded by its own mutex
	hist history  // guarded by mu
}

// NewDownTrack creates a down track for cfg.Receiver. It starts receiving packets once it
// is added to the receiver and bound to a PeerConnection.
func NewDownTrack(cfg DownTrackConfig) *DownTrack {
	c := cfg.Receiver.Codec()
	d := &DownTrack{id: cfg.ID, streamID: cfg.StreamID, recv: cfg.Receiver, codec: c, listener: cfg.Listener,
		wrap: cfg.Writer}
	needKF := c.Kind == KindVideo && simulcast.CodecFromMime(c.MimeType).CanDetectKeyframes()
	d.sel.Reset(c.ClockRate, needKF, uint16(rand.Uint32()), rand.Uint32())
	d.current.Store(int32(simulcast.NoLayer))
	d.maxPref.Store(int32(simulcast.LayerF))
	d.target.Store(int32(simulcast.LayerQ))
	d.sel.SetTarget(simulcast.LayerQ)
	d.rtx.init()
	d.temporalCap = simulcast.MaxTemporal
	if c.Kind == KindVideo && simulcast.CodecFromMime(c.MimeType) == simulcast.CodecVP8 {
		for i := range d.payloads {
			d.payloads[i] = make([]byte, MaxPacketSize)
		}
	}
	return d
}

// ID implements webrtc.TrackLocal.
func (d *DownTrack) ID() string { return d.id }

// RID implements webrtc.TrackLocal; a down track is always a single stream.
func (d *DownTrack) RID() string { return "" }

// StreamID implements webrtc.TrackLocal.
func (d *DownTrack) StreamID() string { return d.streamID }

// Kind implements webrtc.TrackLocal.
func (d *DownTrack) Kind() webrtc.RTPCodecType {
	if d.codec.Kind == KindAudio {
		return webrtc.RTPCodecTypeAudio
	}
	return webrtc.RTPCodecTypeVideo
}

// Receiver is the published track this down track forwards.
func (d *DownTrack) Receiver() *Receiver { return d.recv }

// Bind implements webrtc.TrackLocal: pick the subscriber's payload type for our codec.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(d.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, ErrCodecNotNegotiated
	}
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(codec.PayloadType)
	w := webrtc.TrackLocalWriter(ctx.WriteStream())
	if d.wrap != nil {
		w = d.wrap(ctx, w)
	}
	d.writer = w
	d.bwriter, _ = w.(BatchWriter)
	d.bound.Store(true)
	// A new subscriber needs a keyframe to start decoding.
	d.recv.RequestKeyframe(int8(d.target.Load()))
	return codec, nil
}

// Unbind implements webrtc.TrackLocal.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(false)
	if r, ok := d.writer.(interface{ Release() }); ok {
		r.Release()
	}
	return nil
}

// matchCodec finds c among the negotiated codecs: same MIME type and, for H.264, the same
// packetization mode and profile (a decoder cannot take another profile's stream).
func matchCodec(c Codec, params []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var fallback *webrtc.RTPCodecParameters
	for i := range params {
		p := &params[i]
		if !strings.EqualFold(p.MimeType, c.MimeType) {
			continue
		}
		if !strings.EqualFold(c.MimeType, webrtc.MimeTypeH264) {
			return *p, true
		}
		if fmtpValue(p.SDPFmtpLine, "packetization-mode") != fmtpValue(c.FmtpLine, "packetization-mode") {
			continue
		}
		if h264Profile(p.SDPFmtpLine) == h264Profile(c.FmtpLine) {
			return *p, true
		}
		if fallback == nil {
			fallback = p
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// h264Profile is profile_idc and the constraint flags of an H.264 fmtp line.
func h264Profile(line string) string {
	v := strings.ToLower(fmtpValue(line, "profile-level-id"))
	return v[:min(4, len(v))]
}

func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if ok && strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// SetMaxLayer caps the layer this subscriber receives (its preference).
func (d *DownTrack) SetMaxLayer(l int8) { d.maxPref.Store(int32(l)) }

// MaxLayer is the subscriber's cap.
func (d *DownTrack) MaxLayer() int8 { return int8(d.maxPref.Load()) }

// Pause stops forwarding until the next SetTargetLayer, which resumes at a keyframe.
func (d *DownTrack) Pause() {
	if d.paused.Swap(true) {
		return
	}
	d.mu.Lock()
	d.sel.Resync()
	d.mu.Unlock()
	d.current.Store(int32(simulcast.NoLayer))
}

// Paused reports whether the down track is paused.
func (d *DownTrack) Paused() bool { return d.paused.Load() }

// SetTargetLayer aims the down track at layer l (resuming it if paused); the switch
// happens at l's next keyframe, which is requested now.
func (d *DownTrack) SetTargetLayer(l int8) {
	if l < 0 || int(l) >= simulcast.MaxLayers {
		return
	}
	resumed := d.paused.Swap(false)
	if int8(d.target.Swap(int32(l))) == l && !resumed {
		return
	}
	cur := int8(d.current.Load())
	d.mu.Lock()
	d.sel.SetTarget(l)
	if cur >= 0 && l < cur {
		// Switching down: until the lower layer's keyframe arrives, shed the current
		// layer's upper temporal layers at once (about half its bitrate for VP8).
		d.sel.SetMaxTemporal(0)
	}
	d.mu.Unlock()
	if cur != l && d.bound.Load() {
		d.recv.RequestKeyframe(l)
	}
}

// SetMaxTemporal caps the temporal layers forwarded (VP8), the fine step below a spatial
// layer.
func (d *DownTrack) SetMaxTemporal(tid uint8) {
	d.mu.Lock()
	d.temporalCap = tid
	if int8(d.current.Load()) <= int8(d.target.Load()) {
		d.sel.SetMaxTemporal(tid)
	}
	d.mu.Unlock()
}

// TargetLayer is the layer aimed for.
func (d *DownTrack) TargetLayer() int8 { return int8(d.target.Load()) }

// CurrentLayer is the layer being forwarded, or simulcast.NoLayer.
func (d *DownTrack) CurrentLayer() int8 { return int8(d.current.Load()) }

// forward is called by a layer's read goroutine for every packet of the track and reports
// whether it wrote the packet (or queued it in b, when b is not nil and the writer batches).
// It must not block for long and allocates nothing.
func (d *DownTrack) forward(p *extPacket, b Batch) bool {
	if !d.bound.Load() || d.closed.Load() || d.paused.Load() {
		return false
	}
	l := p.sp.Layer
	if int32(l) != d.current.Load() && int32(l) != d.target.Load() {
		return false
	}
	var dec simulcast.Decision
	d.mu.Lock()
	d.sel.Select(&p.sp, &dec)
	if dec.Switched {
		d.sel.SetMaxTemporal(d.temporalCap) // a switch down is complete
	}
	if dec.Forward {
		d.hist.record(dec.Seq, histEntry{srcExt: p.sp.ExtSeq, outTS: dec.TS, layer: l, vp8: dec.VP8})
	}
	d.mu.Unlock()
	if dec.WantKeyframe != simulcast.NoLayer {
		d.recv.RequestKeyframe(dec.WantKeyframe)
	}
	if !dec.Forward {
		return false
	}
	if dec.Switched {
		d.current.Store(int32(l))
	}
	payload := p.payload()
	if dec.VP8.Active() {
		n, err := dec.VP8.Apply(payload, d.payloads[l])
		if err != nil {
			return false
		}
		payload = d.payloads[l][:n]
	}
	h := &d.hdrs[l]
	d.fillHeader(h, &p.hdr, dec.Seq, dec.TS)
	var (
		n   int
		err error
	)
	if b != nil && d.bwriter != nil {
		n, err = d.bwriter.WriteRTPBatch(b, h, payload)
	} else {
		n, err = d.writer.WriteRTP(h, payload)
	}
	if err != nil {
		return false
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(n))
	d.payloadBytes.Add(uint64(len(payload)))
	return true
}

// fillHeader writes the subscriber's view of a packet's header into h. Publisher header
// extensions are not forwarded: the subscriber connection negotiates its own.
func (d *DownTrack) fillHeader(h *rtp.Header, src *Header, seq uint16, ts uint32) {
	h.Version = 2
	h.Padding = src.PaddingLen > 0
	h.PaddingSize = src.PaddingLen
	h.Marker = src.Marker
	h.PayloadType = d.pt
	h.SequenceNumber = seq
	h.Timestamp = ts
	h.SSRC = d.ssrc
	h.CSRC = h.CSRC[:0]
	h.Extension = false
	h.ExtensionProfile = 0
	h.Extensions = h.Extensions[:0]
}

// Close detaches the down track from its receiver. It does not touch the PeerConnection.
func (d *DownTrack) Close() {
	if d.closed.Swap(true) {
		return
	}
	d.recv.RemoveDownTrack(d)
}

// receiverClosed is called by the receiver when the published track goes away.
func (d *DownTrack) receiverClosed() {
	if d.closed.Swap(true) {
		return
	}
	if d.listener != nil {
		d.listener.OnDownTrackClosed(d)
	}
}

// Closed reports whether the down track has been closed.
func (d *DownTrack) Closed() bool { return d.closed.Load() }

// DownTrackStats is a snapshot of one down track.
type DownTrackStats struct {
	Packets, Bytes, Retransmits, NACKs, PLIs uint64
	FractionLost                             float64
	RTTMillis                                float64
	CurrentLayer, TargetLayer                int8
}

// Stats returns the down track's counters.
func (d *DownTrack) Stats() DownTrackStats {
	return DownTrackStats{
		Packets: d.packets.Load(), Bytes: d.bytes.Load(), Retransmits: d.retransmits.Load(),
		NACKs: d.nacks.Load(), PLIs: d.plis.Load(),
		FractionLost: float64(d.fractionLost.Load()) / 256,
		RTTMillis:    float64(d.rttMicros.Load()) / 1000,
		CurrentLayer: d.CurrentLayer(), TargetLayer: d.TargetLayer(),
	}
}
