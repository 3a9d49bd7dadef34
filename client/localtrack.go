package client

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// TrackOptions describe a track to publish (the addTrack request).
type TrackOptions struct {
	Name   string
	Source cascadev1.TrackSource
	Kind   cascadev1.TrackKind // default: from the track
	Width  uint32
	Height uint32
	// Layers describe simulcast encodings; PublishSimulcast fills them from Width and Height
	// when empty.
	Layers []*cascadev1.VideoLayer
	Muted  bool
}

// LocalTrack is a published track.
type LocalTrack struct {
	c      *Client
	cid    string
	tracks []webrtc.TrackLocal
	rids   []string // simulcast rids, lowest first; nil for a single encoding

	mu          sync.Mutex // guards the fields below
	info        *cascadev1.TrackInfo
	transceiver *webrtc.RTPTransceiver
	sender      *webrtc.RTPSender
	muted       bool
	unpublished bool

	plis, firs, nackedPackets atomic.Uint64
	remb                      atomic.Uint64 // bits/s from the last REMB (0: none)
	fractionLost              atomic.Uint32 // from the last receiver report, /256
	jitter                    atomic.Uint32 // from the last receiver report, in RTP clock units
	onKeyframe                atomic.Pointer[func(rid string)]
	layerHook                 atomic.Pointer[layerHook]
}

// LocalTrackStats are what the SFU's RTCP told the publisher about a track.
type LocalTrackStats struct {
	PLIs          uint64  // picture loss indications received (RFC 4585 section 6.3.1)
	FIRs          uint64  // full intra requests received (RFC 5104 section 4.3.1)
	NACKedPackets uint64  // packets the SFU asked to be resent (RFC 4585 section 6.2.1)
	REMB          uint64  // last receiver estimated maximum bitrate, bits/s
	FractionLost  float64 // from the last receiver report, 0..1
	Jitter        uint32  // from the last receiver report, RTP clock units
}

// CID is the client's track id (the track's ID, as in a=msid).
func (t *LocalTrack) CID() string { return t.cid }

// SID is the server's track sid.
func (t *LocalTrack) SID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.info.GetSid()
}

// Info is the track as the server described it in trackPublished.
func (t *LocalTrack) Info() *cascadev1.TrackInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return clone(t.info)
}

// RIDs returns the simulcast rids, lowest first (nil for a single encoding).
func (t *LocalTrack) RIDs() []string { return slices.Clone(t.rids) }

// Tracks returns the pion tracks (one per encoding).
func (t *LocalTrack) Tracks() []webrtc.TrackLocal { return slices.Clone(t.tracks) }

// Sender returns the pion RTPSender.
func (t *LocalTrack) Sender() *webrtc.RTPSender {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sender
}

// Transceiver returns the pion RTPTransceiver.
func (t *LocalTrack) Transceiver() *webrtc.RTPTransceiver {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.transceiver
}

// Muted reports whether the track was last muted with Mute.
func (t *LocalTrack) Muted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.muted
}

// HeaderExtensionID returns the negotiated id of a header extension on this track's sender,
// or 0. For example, with AudioLevelURI it gives the id a synthetic audio source writes.
func (t *LocalTrack) HeaderExtensionID(uri string) int {
	s := t.Sender()
	if s == nil {
		return 0
	}
	for _, e := range s.GetParameters().HeaderExtensions {
		if e.URI == uri {
			return e.ID
		}
	}
	return 0
}

// OnKeyframeRequest sets a function called (on the RTCP reader goroutine) for each PLI or FIR
// the SFU sends for this track; rid names the simulcast layer ("" for a single encoding).
// Synthetic sources hook their RequestKeyframe here.
func (t *LocalTrack) OnKeyframeRequest(f func(rid string)) {
	if f == nil {
		t.onKeyframe.Store(nil)
		return
	}
	t.onKeyframe.Store(&f)
}

// Stats returns what the SFU's RTCP reported for this track.
func (t *LocalTrack) Stats() LocalTrackStats {
	return LocalTrackStats{
		PLIs:          t.plis.Load(),
		FIRs:          t.firs.Load(),
		NACKedPackets: t.nackedPackets.Load(),
		REMB:          t.remb.Load(),
		FractionLost:  float64(t.fractionLost.Load()) / 256,
		Jitter:        t.jitter.Load(),
	}
}

// PLICount is the number of PLIs received for this track.
func (t *LocalTrack) PLICount() uint64 { return t.plis.Load() }

// FIRCount is the number of FIRs received for this track.
func (t *LocalTrack) FIRCount() uint64 { return t.firs.Load() }

// Mute tells the server the track is muted or unmuted. Stopping or resuming the media itself
// is the caller's (its source writes the track).
func (t *LocalTrack) Mute(muted bool) error {
	sid := t.SID()
	err := t.c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Mute{
		Mute: &cascadev1.MuteTrackRequest{TrackSid: sid, Muted: muted},
	}})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.muted = muted
	if t.info != nil {
		t.info.Muted = muted
	}
	t.mu.Unlock()
	t.c.room.trackMuted(t.c.SID(), sid, muted)
	t.c.notify()
	return nil
}

// Unpublish stops publishing the track: it tells the server, removes the track from the
// publisher connection and renegotiates.
func (t *LocalTrack) Unpublish() error { return t.UnpublishContext(context.Background()) }

// UnpublishContext is Unpublish bounded by ctx (and the request timeout).
func (t *LocalTrack) UnpublishContext(ctx context.Context) error {
	t.mu.Lock()
	if t.unpublished {
		t.mu.Unlock()
		return nil
	}
	t.unpublished = true
	sid, sender := t.info.GetSid(), t.sender
	t.mu.Unlock()
	c, p := t.c, t.c.pub
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	err := c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Unpublish{
		Unpublish: &cascadev1.UnpublishTrackRequest{TrackSid: sid},
	}})
	p.removeSender(sender)
	p.mu.Lock()
	delete(p.tracks, t.cid)
	p.mu.Unlock()
	c.room.trackUnpublished(c.SID(), sid)
	c.notify()
	if err != nil {
		return err
	}
	return p.waitNegotiated(ctx, p.requestNegotiation())
}

// LocalTracks returns the published tracks.
func (c *Client) LocalTracks() []*LocalTrack {
	c.pub.mu.Lock()
	defer c.pub.mu.Unlock()
	out := make([]*LocalTrack, 0, len(c.pub.tracks))
	for _, t := range c.pub.tracks {
		out = append(out, t)
	}
	return out
}

// PublishTrack publishes a track: it sends addTrack (cid = track.ID()), waits for the server's
// trackPublished, adds a sendonly transceiver and renegotiates, returning once the SFU's
// answer is applied. The caller writes media to the track.
func (c *Client) PublishTrack(track webrtc.TrackLocal, opts TrackOptions) (*LocalTrack, error) {
	return c.PublishTrackContext(context.Background(), track, opts)
}

// PublishTrackContext is PublishTrack bounded by ctx (and the request timeout).
func (c *Client) PublishTrackContext(ctx context.Context, track webrtc.TrackLocal, opts TrackOptions) (*LocalTrack, error) {
	if track == nil {
		return nil, fmt.Errorf("%w: nil track", ErrBadTrack)
	}
	return c.pub.publish(ctx, []webrtc.TrackLocal{track}, nil, opts)
}

// simulcastOrder ranks rids lowest first.
var simulcastOrder = map[string]int{"q": 0, "h": 1, "f": 2}

// PublishSimulcast publishes one video track as several encodings, one pion track per rid
// (q, h, f: quarter, half and full resolution), all with the same track and stream id. It
// uses one transceiver with RTPSender.AddEncoding, so the offer carries a=rid and
// a=simulcast lines and every packet carries its mid and rid.
func (c *Client) PublishSimulcast(tracks []*webrtc.TrackLocalStaticRTP, opts TrackOptions) (*LocalTrack, error) {
	return c.PublishSimulcastContext(context.Background(), tracks, opts)
}

// PublishSimulcastContext is PublishSimulcast bounded by ctx (and the request timeout).
func (c *Client) PublishSimulcastContext(ctx context.Context, tracks []*webrtc.TrackLocalStaticRTP, opts TrackOptions) (*LocalTrack, error) {
	if len(tracks) < 2 {
		return nil, fmt.Errorf("%w: simulcast needs at least two encodings, got %d", ErrBadTrack, len(tracks))
	}
	sorted := slices.Clone(tracks)
	slices.SortStableFunc(sorted, func(a, b *webrtc.TrackLocalStaticRTP) int {
		return rank(a.RID()) - rank(b.RID())
	})
	rids := make([]string, len(sorted))
	local := make([]webrtc.TrackLocal, len(sorted))
	for i, t := range sorted {
		if t == nil || t.RID() == "" || slices.Contains(rids[:i], t.RID()) {
			return nil, fmt.Errorf("%w: simulcast tracks need distinct rids", ErrBadTrack)
		}
		if t.ID() != sorted[0].ID() || t.StreamID() != sorted[0].StreamID() || t.Kind() != webrtc.RTPCodecTypeVideo {
			return nil, fmt.Errorf("%w: simulcast tracks must be video with one track id and stream id", ErrBadTrack)
		}
		rids[i], local[i] = t.RID(), t
	}
	if len(opts.Layers) == 0 {
		opts.Layers = defaultLayers(rids, opts.Width, opts.Height)
	}
	return c.pub.publish(ctx, local, rids, opts)
}

func rank(rid string) int {
	if r, ok := simulcastOrder[rid]; ok {
		return r
	}
	return len(simulcastOrder)
}

// defaultLayers describes q, h and f as quarter, half and full of width x height.
func defaultLayers(rids []string, w, h uint32) []*cascadev1.VideoLayer {
	layers := make([]*cascadev1.VideoLayer, len(rids))
	for i, rid := range rids {
		div := uint32(1) << max(0, len(rids)-1-i) // lowest gets the smallest
		switch rid {
		case "q":
			div = 4
		case "h":
			div = 2
		case "f":
			div = 1
		}
		layers[i] = &cascadev1.VideoLayer{Rid: rid, Width: w / div, Height: h / div}
	}
	return layers
}

func trackKind(k webrtc.RTPCodecType) cascadev1.TrackKind {
	switch k {
	case webrtc.RTPCodecTypeAudio:
		return cascadev1.TrackKind_TRACK_KIND_AUDIO
	case webrtc.RTPCodecTypeVideo:
		return cascadev1.TrackKind_TRACK_KIND_VIDEO
	}
	return cascadev1.TrackKind_TRACK_KIND_UNSPECIFIED
}

// publish runs the three steps of PROTOCOL.md "Publisher connection": addTrack and its
// answer, the transceiver, the offer and its answer.
func (p *publisher) publish(ctx context.Context, tracks []webrtc.TrackLocal, rids []string, opts TrackOptions) (*LocalTrack, error) {
	c := p.c
	if c.ctx.Err() != nil {
		return nil, c.closedErr()
	}
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	cid := tracks[0].ID()
	if cid == "" {
		return nil, fmt.Errorf("%w: track without an id", ErrBadTrack)
	}
	kind := opts.Kind
	if kind == cascadev1.TrackKind_TRACK_KIND_UNSPECIFIED {
		kind = trackKind(tracks[0].Kind())
	}
	lt := &LocalTrack{c: c, cid: cid, tracks: tracks, rids: rids, muted: opts.Muted}
	p.mu.Lock()
	if _, dup := p.tracks[cid]; dup {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrDuplicateTrack, cid)
	}
	p.tracks[cid] = lt
	p.mu.Unlock()
	forget := func() {
		p.mu.Lock()
		delete(p.tracks, cid)
		p.mu.Unlock()
	}

	// 1. addTrack, answered by trackPublished (or an error).
	pa := &pendingAdd{cid: cid, ch: make(chan addResult, 1)}
	p.addMu.Lock()
	p.mu.Lock()
	p.pendingAdds = append(p.pendingAdds, pa)
	p.mu.Unlock()
	err := c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_AddTrack{AddTrack: &cascadev1.AddTrackRequest{
		Cid: cid, Name: opts.Name, Kind: kind, Source: opts.Source,
		Width: opts.Width, Height: opts.Height, Muted: opts.Muted, Layers: opts.Layers,
	}}})
	p.addMu.Unlock()
	if err != nil {
		p.dropAdd(pa)
		forget()
		return nil, err
	}
	var info *cascadev1.TrackInfo
	select {
	case r := <-pa.ch:
		if r.err != nil {
			forget()
			return nil, r.err
		}
		info = r.info
	case <-ctx.Done():
		p.dropAdd(pa)
		forget()
		return nil, c.ctxErr(ctx, "addTrack")
	}
	lt.info = clone(info)
	abandon := func(err error) (*LocalTrack, error) {
		_ = c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Unpublish{
			Unpublish: &cascadev1.UnpublishTrackRequest{TrackSid: info.GetSid()},
		}})
		forget()
		return nil, err
	}

	// 2. The transceiver, with one encoding per simulcast track.
	tr, err := p.pc.AddTransceiverFromTrack(tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return abandon(fmt.Errorf("add transceiver: %w", err))
	}
	sender := tr.Sender()
	for _, t := range tracks[1:] {
		if err := sender.AddEncoding(t); err != nil {
			p.removeSender(sender)
			return abandon(fmt.Errorf("add simulcast encoding %q: %w", t.RID(), err))
		}
	}
	lt.mu.Lock()
	lt.transceiver, lt.sender = tr, sender
	lt.mu.Unlock()
	if len(rids) == 0 {
		c.wg.Go(func() { lt.readRTCP(sender, "") })
	}
	for _, rid := range rids {
		c.wg.Go(func() { lt.readRTCP(sender, rid) })
	}

	// 3. The offer.
	if err := p.waitNegotiated(ctx, p.requestNegotiation()); err != nil {
		p.removeSender(sender)
		return abandon(err)
	}
	c.room.trackPublished(c.SID(), info)
	c.notify()
	return lt, nil
}

// waitNegotiated waits for a requested renegotiation's outcome.
func (p *publisher) waitNegotiated(ctx context.Context, ch <-chan error) error {
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return p.c.ctxErr(ctx, "publisher negotiation")
	}
}

// removeSender takes a sender off the connection and forgets its stamps; the caller
// renegotiates.
func (p *publisher) removeSender(s *webrtc.RTPSender) {
	if s == nil {
		return
	}
	for _, enc := range s.GetParameters().Encodings {
		p.stamp.remove(uint32(enc.SSRC))
	}
	if err := p.pc.RemoveTrack(s); err != nil && p.c.ctx.Err() == nil {
		p.c.log.Warn("cannot remove track from publisher connection", "err", err)
	}
}

// readRTCP reads the SFU's RTCP for one encoding until the sender stops: it counts feedback
// and calls the keyframe hook. Reading also feeds the interceptors (the NACK responder).
func (t *LocalTrack) readRTCP(s *webrtc.RTPSender, rid string) {
	buf := make([]byte, 1500)
	for {
		var n int
		var err error
		if rid == "" {
			n, _, err = s.Read(buf)
		} else {
			n, _, err = s.ReadSimulcast(buf, rid)
		}
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, pkt := range pkts {
			t.onRTCP(pkt, rid)
		}
	}
}

func (t *LocalTrack) onRTCP(pkt rtcp.Packet, rid string) {
	switch v := pkt.(type) {
	case *rtcp.PictureLossIndication:
		t.plis.Add(1)
		t.keyframeRequested(rid)
	case *rtcp.FullIntraRequest:
		t.firs.Add(1)
		t.keyframeRequested(rid)
	case *rtcp.TransportLayerNack:
		var n uint64
		for _, pair := range v.Nacks {
			n += uint64(len(pair.PacketList()))
		}
		t.nackedPackets.Add(n)
	case *rtcp.ReceiverEstimatedMaximumBitrate:
		if v.Bitrate > 0 && v.Bitrate < math.MaxUint64 {
			t.remb.Store(uint64(v.Bitrate))
		}
	case *rtcp.ReceiverReport:
		for _, r := range v.Reports {
			t.fractionLost.Store(uint32(r.FractionLost))
			t.jitter.Store(r.Jitter)
		}
	}
}

func (t *LocalTrack) keyframeRequested(rid string) {
	if f := t.onKeyframe.Load(); f != nil {
		(*f)(rid)
	}
}
