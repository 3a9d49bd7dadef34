// Package router is the forwarding plane: a Receiver per published track reads each of
// its RTP streams into a ring buffer and fans every packet out to the track's DownTracks,
// which rewrite and write it to subscribers and answer their NACKs from the ring.
package router

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cascade-sfu/cascade/simulcast"
)

// PacketSource delivers the packets of one received RTP stream: a pion TrackRemote
// through a thin adapter, or (later) a stream relayed from another node. ReadPacket blocks
// until a packet arrives and returns an error once the stream has ended.
type PacketSource interface {
	ReadPacket(b []byte) (int, error)
}

// KeyframeRequester asks the publisher for a keyframe on the stream with ssrc (a PLI,
// RFC 4585 section 6.3.1).
type KeyframeRequester interface {
	RequestKeyframe(ssrc uint32)
}

// ReceiverListener hears about a receiver's streams. Calls come from read goroutines,
// never under a router lock.
type ReceiverListener interface {
	// OnStreamEnded is called when a layer's source returns an error; last is set when no
	// layer is left running.
	OnStreamEnded(r *Receiver, layer int8, err error, last bool)
}

// ReceiverConfig describes a published track.
type ReceiverConfig struct {
	TrackID   string
	Codec     Codec
	Simulcast bool
	// AudioLevelExtID is the negotiated id of the RFC 6464 extension (0 if none).
	AudioLevelExtID uint8
	// RingSize is the number of packets kept per stream for retransmission (power of two;
	// default 512 for video, 128 for audio).
	RingSize int
	// KeyframeThrottle is how long a keyframe request may stay unanswered before it is
	// repeated (default 500 ms); requests while one is outstanding are merged into it.
	KeyframeThrottle time.Duration
	Keyframes        KeyframeRequester
	Listener         ReceiverListener
	Logger           *slog.Logger
	// Latency, when set, counts how long each forwarded packet took inside the router.
	Latency *LatencyHistogram
	// NewBatch, when set, gives each read goroutine the batch its fan-outs write into
	// (down tracks whose writer is a BatchWriter queue there; the rest write at once).
	NewBatch func() Batch
}

// Receiver is one published track: up to three simulcast layers, each read by its own
// goroutine, fanned out to the track's down tracks.
type Receiver struct {
	cfg   ReceiverConfig
	codec simulcast.Codec
	log   *slog.Logger

	layers [simulcast.MaxLayers]atomic.Pointer[layer]

	downTracks atomic.Pointer[[]*DownTrack] // copy-on-write; read lock-free per packet

	mu      sync.Mutex // guards the down track list rebuild, running and closed
	running int
	closed  bool
	wg      sync.WaitGroup

	rates layerRates

	// Audio level accumulation (RFC 6464), drained by TakeAudioLevel.
	levelSum   atomic.Int64 // sum of loudness (127 - level) over packets
	levelCount atomic.Int64
	voiceCount atomic.Int64
}

// layer is one received RTP stream.
type layer struct {
	index    int8
	ssrc     uint32
	src      PacketSource
	ring     *ring
	lastNs   atomic.Int64 // arrival of the last media (non-padding) packet, monotonic ns
	sinceNs  atomic.Int64 // arrival of the first media packet after a gap of layerGap or more
	lastPLI  atomic.Int64 // when a keyframe was last requested, monotonic ns
	lastKey  atomic.Int64 // when a keyframe last arrived
	packets  atomic.Uint64
	bytes    atomic.Uint64
	keyframe atomic.Uint64 // keyframes seen
	bad      atomic.Uint64 // packets that did not parse
	batch    Batch         // the read goroutine's write batch (nil: write at once)
}

// NewReceiver creates a receiver; streams are attached with AddLayer.
func NewReceiver(cfg ReceiverConfig) *Receiver {
	if cfg.RingSize <= 0 {
		cfg.RingSize = 512
		if cfg.Codec.Kind == KindAudio {
			cfg.RingSize = 128
		}
	}
	cfg.RingSize = nextPow2(cfg.RingSize)
	if cfg.KeyframeThrottle <= 0 {
		cfg.KeyframeThrottle = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{cfg: cfg, codec: simulcast.CodecFromMime(cfg.Codec.MimeType), log: cfg.Logger.With("track", cfg.TrackID)}
	empty := []*DownTrack{}
	r.downTracks.Store(&empty)
	return r
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// TrackID is the published track's id.
func (r *Receiver) TrackID() string { return r.cfg.TrackID }

// Codec is the track's codec.
func (r *Receiver) Codec() Codec { return r.cfg.Codec }

// Simulcast reports whether the track has several spatial layers.
func (r *Receiver) Simulcast() bool { return r.cfg.Simulcast }

// AddLayer attaches a received stream as layer index and starts reading it.
func (r *Receiver) AddLayer(index int8, ssrc uint32, src PacketSource) error {
	if index < 0 || int(index) >= simulcast.MaxLayers {
		return ErrBadLayer
	}
	l := &layer{index: index, ssrc: ssrc, src: src, ring: newRing(r.cfg.RingSize)}
	if r.cfg.NewBatch != nil {
		l.batch = r.cfg.NewBatch()
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	if r.layers[index].Load() != nil {
		r.mu.Unlock()
		return ErrLayerExists
	}
	r.layers[index].Store(l)
	r.running++
	r.wg.Add(1)
	r.mu.Unlock()
	go r.readLoop(l)
	return nil
}

// readLoop is the one goroutine per received stream: read into the ring, parse once, fan
// out synchronously. It allocates nothing per packet.
func (r *Receiver) readLoop(l *layer) {
	defer r.wg.Done()
	var (
		unwrap seqUnwrapper
		p      extPacket
	)
	var err error
	for {
		idx, buf := l.ring.begin()
		var n int
		n, err = l.src.ReadPacket(buf)
		if err != nil {
			break
		}
		r.handlePacket(l, &unwrap, &p, idx, buf[:n])
	}
	r.mu.Lock()
	r.running--
	last := r.running == 0
	r.mu.Unlock()
	if r.cfg.Listener != nil {
		r.cfg.Listener.OnStreamEnded(r, l.index, err, last)
	}
}

// handlePacket parses one packet read into ring slot idx, commits it to the ring and fans
// it out. It is the whole per-packet work of the read loop.
func (r *Receiver) handlePacket(l *layer, unwrap *seqUnwrapper, p *extPacket, idx int, pkt []byte) {
	if err := ParseHeader(pkt, r.cfg.AudioLevelExtID, &p.hdr); err != nil {
		if l.bad.Add(1) == 1 {
			r.log.Warn("dropping malformed RTP", "layer", l.index, "err", err)
		}
		return
	}
	now := monoNow()
	ext := unwrap.unwrap(p.hdr.Seq)
	l.ring.commit(idx, len(pkt), ext)
	if p.hdr.PayloadLen > 0 {
		// Padding-only packets (bandwidth probes) keep flowing on a layer the encoder has
		// paused; only media makes a layer count as sent.
		if now-l.lastNs.Load() >= int64(layerGap) {
			l.sinceNs.Store(now)
		}
		l.lastNs.Store(now)
	}
	l.packets.Add(1)
	l.bytes.Add(uint64(len(pkt)))

	isAudio := r.cfg.Codec.Kind == KindAudio
	p.buf = pkt
	p.sp = simulcast.Packet{Layer: l.index, ExtSeq: ext, TS: p.hdr.TS, Marker: p.hdr.Marker, ArrivalNs: now}
	if !isAudio {
		// Keyframe, temporal layer and (for VP8) the payload descriptor, parsed once for
		// every down track.
		p.sp.ParsePayload(r.codec, p.payload())
	}
	if p.sp.Keyframe {
		l.keyframe.Add(1)
		l.lastKey.Store(now)
	}
	if isAudio && p.hdr.AudioLevel >= 0 {
		r.levelSum.Add(int64(127 - p.hdr.AudioLevel))
		r.levelCount.Add(1)
		if p.hdr.Voice || p.hdr.AudioLevel < 127 {
			r.voiceCount.Add(1)
		}
	}
	dts := *r.downTracks.Load()
	b := l.batch
	if r.cfg.Latency == nil {
		for _, dt := range dts {
			dt.forward(p, b)
		}
		if b != nil {
			b.Flush()
		}
		return
	}
	var tally latencyTally
	if b == nil {
		for _, dt := range dts {
			if dt.forward(p, nil) {
				tally.observe(monoNow() - now)
			}
		}
	} else {
		// The batch leaves at the end of the fan-out: every packet of it is counted then,
		// an upper bound for those an earlier full batch sent.
		n := 0
		for _, dt := range dts {
			if dt.forward(p, b) {
				n++
			}
		}
		b.Flush()
		tally.observeN(n, monoNow()-now)
	}
	tally.flush(r.cfg.Latency)
}

// extPacket is one received packet as the fan-out sees it; owned by its read goroutine
// and only lent synchronously to down tracks.
type extPacket struct {
	buf []byte
	hdr Header
	sp  simulcast.Packet
}

func (p *extPacket) payload() []byte {
	return p.buf[p.hdr.HeaderLen : p.hdr.HeaderLen+p.hdr.PayloadLen]
}

// AddDownTrack starts fanning packets out to dt.
func (r *Receiver) AddDownTrack(dt *DownTrack) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	old := *r.downTracks.Load()
	for _, d := range old {
		if d == dt {
			return nil
		}
	}
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, dt)
	r.downTracks.Store(&next)
	return nil
}

// RemoveDownTrack stops fanning packets out to dt.
func (r *Receiver) RemoveDownTrack(dt *DownTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeDownTrackLocked(dt)
}

func (r *Receiver) removeDownTrackLocked(dt *DownTrack) {
	old := *r.downTracks.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, d := range old {
		if d != dt {
			next = append(next, d)
		}
	}
	r.downTracks.Store(&next)
}

// DownTracks returns the current down tracks.
func (r *Receiver) DownTracks() []*DownTrack { return *r.downTracks.Load() }

// minKeyframeGap spaces keyframe requests to one layer even when each was answered.
const minKeyframeGap = 100 * time.Millisecond

// RequestKeyframe asks the publisher for a keyframe on layer. A request made while an
// earlier one is still unanswered (no keyframe since) is merged into it, unless that one
// is older than KeyframeThrottle; once a keyframe arrived, the next request goes out at
// once, so a subscriber joining just after a keyframe does not wait a whole throttle.
func (r *Receiver) RequestKeyframe(layer int8) {
	if layer < 0 || int(layer) >= simulcast.MaxLayers || r.cfg.Keyframes == nil || r.cfg.Codec.Kind == KindAudio {
		return // audio has no keyframes to ask for
	}
	l := r.layers[layer].Load()
	if l == nil {
		return
	}
	now := monoNow()
	last := l.lastPLI.Load()
	if last != 0 {
		outstanding := l.lastKey.Load() < last
		if now-last < int64(minKeyframeGap) || outstanding && now-last < int64(r.cfg.KeyframeThrottle) {
			return
		}
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	r.cfg.Keyframes.RequestKeyframe(l.ssrc)
}

// ActiveLayers returns a bitmask of layers that received a packet within window.
func (r *Receiver) ActiveLayers(window time.Duration) uint8 {
	now := monoNow()
	var mask uint8
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil {
			if t := l.lastNs.Load(); t != 0 && now-t < int64(window) {
				mask |= 1 << i
			}
		}
	}
	return mask
}

// layerGap is a pause in a layer's media long enough that its restart counts as a new
// start (its publisher paused and resumed it: dynacast holds a layer 3 s before pausing
// it). A slow layer (a static screen share at a frame a second) pauses less than this
// between frames.
const layerGap = 1500 * time.Millisecond

// SteadyLayers returns a bitmask of layers that received media within window and have been
// doing so without a pause for at least settle: their measured bitrate (LayerBitrates)
// covers a whole measuring interval.
func (r *Receiver) SteadyLayers(window, settle time.Duration) uint8 {
	now := monoNow()
	var mask uint8
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil {
			if t := l.lastNs.Load(); t != 0 && now-t < int64(window) && now-l.sinceNs.Load() >= int64(settle) {
				mask |= 1 << i
			}
		}
	}
	return mask
}

// HighestActive is the best layer that received a packet within window, or NoLayer.
func (r *Receiver) HighestActive(window time.Duration) int8 {
	mask := r.ActiveLayers(window)
	for i := int8(simulcast.MaxLayers - 1); i >= 0; i-- {
		if mask&(1<<i) != 0 {
			return i
		}
	}
	return simulcast.NoLayer
}

// TakeAudioLevel returns the mean loudness (0 silent .. 127 loudest, i.e. 127 - dBov) and
// the fraction of packets marked as voice since the last call, and resets the window.
func (r *Receiver) TakeAudioLevel() (loudness float64, voiceFrac float64, packets int64) {
	n := r.levelCount.Swap(0)
	sum := r.levelSum.Swap(0)
	v := r.voiceCount.Swap(0)
	if n == 0 {
		return 0, 0, 0
	}
	return float64(sum) / float64(n), float64(v) / float64(n), n
}

// LayerStats is a snapshot of one received stream.
type LayerStats struct {
	Layer     int8
	SSRC      uint32
	Packets   uint64
	Bytes     uint64
	Keyframes uint64
	Malformed uint64
}

// Stats returns per-layer counters.
func (r *Receiver) Stats() []LayerStats {
	var out []LayerStats
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil {
			out = append(out, LayerStats{Layer: l.index, SSRC: l.ssrc, Packets: l.packets.Load(),
				Bytes: l.bytes.Load(), Keyframes: l.keyframe.Load(), Malformed: l.bad.Load()})
		}
	}
	return out
}

// getPacket copies packet extSeq of layer into dst for a retransmission.
func (r *Receiver) getPacket(layer int8, extSeq uint64, dst []byte) int {
	if layer < 0 || int(layer) >= simulcast.MaxLayers {
		return 0
	}
	l := r.layers[layer].Load()
	if l == nil {
		return 0
	}
	return l.ring.get(extSeq, dst)
}

// Close detaches every down track (telling each one) and refuses new ones. The read
// goroutines end when their sources return an error; Wait waits for them.
func (r *Receiver) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	dts := *r.downTracks.Load()
	empty := []*DownTrack{}
	r.downTracks.Store(&empty)
	r.mu.Unlock()
	for _, dt := range dts {
		dt.receiverClosed()
	}
}

// Wait blocks until every read goroutine has returned.
func (r *Receiver) Wait() { r.wg.Wait() }

var monoBase = time.Now()

// monoNow is a monotonic clock in nanoseconds.
func monoNow() int64 { return int64(time.Since(monoBase)) }
