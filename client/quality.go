package client

import (
	"context"
	"fmt"
	"slices"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// Video quality (signaling/PROTOCOL.md "Quality: preferences, stream state and dynacast"):
//
//   - as a subscriber, UpdateTrackSettings tells the SFU what the client wants of tracks it
//     receives (render size, highest layer, paused, priority); the SFU's answers arrive as
//     stream states (OnStreamState, StreamStates, BandwidthEstimate);
//   - as a publisher, the SFU says which simulcast layers anyone receives (dynacast):
//     OnSubscribedLayers for every published track, LocalTrack.ActiveLayers and
//     LocalTrack.OnLayerActive for one, which a synthetic source hooks into:
//
//	lt, _ := c.PublishSimulcast(tracks, opts)
//	lt.OnKeyframeRequest(src.RequestKeyframe)
//	lt.OnLayerActive(src.SetLayerActive) // pause layers nobody receives
//
// Nothing is wired automatically: a source that keeps sending every layer is what the
// protocol expects of a publisher that ignores subscribedLayers.

// PinPriority is the priority pinned tracks use (PROTOCOL.md: "pinned tiles use e.g. 10").
const PinPriority = 10

// UpdateTrackSettings sends the client's preferences for tracks it receives (a
// trackSettings request): the size they are rendered at (the SFU forwards the smallest
// layer at least that large; 0 means no limit), the highest layer wanted (MaxRid "q", "h",
// "f" or "" for no cap), whether they are paused (Disabled) and their priority (higher gets
// bandwidth first; PinPriority for a pinned track). Settings replace the previous ones for
// the listed tracks. The SFU sends no answer but a new stream state (OnStreamState) when
// what a track gets changes; a refusal arrives at OnError with request "track_settings".
func (c *Client) UpdateTrackSettings(ctx context.Context, settings *cascadev1.UpdateTrackSettings) error {
	if len(settings.GetTrackSids()) == 0 {
		return fmt.Errorf("%w: track settings name no track", ErrInvalidArgument)
	}
	switch rid := settings.GetMaxRid(); rid {
	case "", "q", "h", "f":
	default:
		return fmt.Errorf("%w: max rid %q is not q, h or f", ErrInvalidArgument, rid)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := clone(settings)
	if err := c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_TrackSettings{TrackSettings: s}}); err != nil {
		return err
	}
	c.room.setTrackSettings(s)
	c.notify()
	return nil
}

// TrackSettings returns the settings last sent for a received track (with TrackSids holding
// just that sid), or nil.
func (c *Client) TrackSettings(trackSid string) *cascadev1.UpdateTrackSettings {
	return c.room.trackSettings(trackSid)
}

// OnStreamState sets the handler for the SFU's stream state updates: what this client gets
// of each track it receives (layer forwarded, layer being switched to, why, paused or not)
// and the SFU's estimate of its downlink. The room state (StreamStates) already includes
// the update when the handler runs.
func (c *Client) OnStreamState(f func(*cascadev1.StreamStateUpdate)) {
	c.h.update(func(s *handlerSet) { s.streamState = f })
}

// StreamStates returns the last reported state of every received track the SFU reported
// on, by track sid.
func (c *Client) StreamStates() map[string]*cascadev1.StreamStateInfo { return c.room.streamStateMap() }

// StreamState returns the last reported state of a received track, or nil.
func (c *Client) StreamState(trackSid string) *cascadev1.StreamStateInfo {
	return c.room.streamState(trackSid)
}

// BandwidthEstimate is the SFU's last reported estimate of this client's downlink, bits per
// second (0 before the first stream state).
func (c *Client) BandwidthEstimate() uint64 { return c.room.estimateBps() }

// OnSubscribedLayers sets the handler for dynacast updates: which layers of a track this
// client publishes anyone receives. LocalTrack.OnLayerActive is the per-track hook.
func (c *Client) OnSubscribedLayers(f func(trackSid string, layers []*cascadev1.SubscribedLayer)) {
	c.h.update(func(s *handlerSet) { s.subscribedLayers = f })
}

// handleStreamState records a stream state update and tells OnStreamState (read loop).
func (c *Client) handleStreamState(u *cascadev1.StreamStateUpdate) {
	cp := c.room.applyStreamState(u)
	c.emit(func(h *handlerSet) { call1(h.streamState, cp) })
}

// handleSubscribedLayers records a dynacast update and tells OnSubscribedLayers and the
// track's OnLayerActive hook (read loop). The update may arrive before PublishTrack has
// returned; the hook gets the latest layers when it is set.
func (c *Client) handleSubscribedLayers(u *cascadev1.SubscribedLayersUpdate) {
	sid := u.GetTrackSid()
	layers := c.room.setSubscribedLayers(sid, u.GetLayers())
	c.emit(func(h *handlerSet) {
		if h.subscribedLayers != nil {
			h.subscribedLayers(sid, cloneLayers(layers))
		}
	})
	c.events.push(func() {
		if t := c.pub.trackBySID(sid); t != nil {
			t.applyLayers()
		}
	})
}

func cloneLayers(ls []*cascadev1.SubscribedLayer) []*cascadev1.SubscribedLayer {
	if ls == nil {
		return nil
	}
	out := make([]*cascadev1.SubscribedLayer, len(ls))
	for i, l := range ls {
		out[i] = clone(l)
	}
	return out
}

// trackBySID finds a published track by its server sid.
func (p *publisher) trackBySID(sid string) *LocalTrack {
	if sid == "" {
		return nil
	}
	p.mu.Lock()
	tracks := make([]*LocalTrack, 0, len(p.tracks))
	for _, t := range p.tracks {
		tracks = append(tracks, t)
	}
	p.mu.Unlock()
	for _, t := range tracks {
		if t.SID() == sid {
			return t
		}
	}
	return nil
}

// SubscribedLayers returns the layers of the SFU's last dynacast update for this track, or
// nil before the first (until then every layer is wanted).
func (t *LocalTrack) SubscribedLayers() []*cascadev1.SubscribedLayer {
	return cloneLayers(t.c.room.subscribedLayers(t.SID()))
}

// LayerActive reports whether anyone receives layer rid ("" for a single encoding): true
// before the first dynacast update and for layers the last one does not name.
func (t *LocalTrack) LayerActive(rid string) bool {
	for _, l := range t.c.room.subscribedLayers(t.SID()) {
		if l.GetRid() == rid {
			return l.GetActive()
		}
	}
	return true
}

// ActiveLayers returns the layers anyone receives, lowest first: the track's rids (or ""
// for a single encoding) that LayerActive reports.
func (t *LocalTrack) ActiveLayers() []string {
	rids := t.rids
	if len(rids) == 0 {
		rids = []string{""}
	}
	out := make([]string, 0, len(rids))
	for _, rid := range rids {
		if t.LayerActive(rid) {
			out = append(out, rid)
		}
	}
	return out
}

// OnLayerActive sets a function told when the SFU turns a layer of this track on or off
// (dynacast): synth.SimulcastSource.SetLayerActive fits. It runs on the event goroutine, like
// other callbacks: at once with the layers of the latest update if one has arrived, then with
// each layer whose state changes. A layer is never reported inactive before an update says
// so. nil removes the function.
func (t *LocalTrack) OnLayerActive(f func(rid string, active bool)) {
	if f == nil {
		t.layerHook.Store(nil)
		return
	}
	t.layerHook.Store(&layerHook{f: f, told: map[string]bool{}})
	t.c.events.push(t.applyLayers)
}

// layerHook is an OnLayerActive function and the layer states it was told.
type layerHook struct {
	f    func(rid string, active bool)
	told map[string]bool // used only on the event goroutine
}

// applyLayers tells the OnLayerActive hook each layer of the latest update whose state
// differs from what it was last told. It runs only on the event goroutine.
func (t *LocalTrack) applyLayers() {
	h := t.layerHook.Load()
	if h == nil {
		return
	}
	for _, l := range t.c.room.subscribedLayers(t.SID()) {
		rid, active := l.GetRid(), l.GetActive()
		if prev, ok := h.told[rid]; ok && prev == active {
			continue
		}
		h.told[rid] = active
		h.f(rid, active)
	}
}

// ---------------------------------------------------------------- room state

// setTrackSettings records settings as sent, once per listed track.
func (r *roomState) setTrackSettings(s *cascadev1.UpdateTrackSettings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.settings == nil {
		r.settings = map[string]*cascadev1.UpdateTrackSettings{}
	}
	for _, sid := range s.GetTrackSids() {
		one := clone(s)
		one.TrackSids = []string{sid}
		r.settings[sid] = one
	}
}

func (r *roomState) trackSettings(sid string) *cascadev1.UpdateTrackSettings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(r.settings[sid])
}

// applyStreamState merges an update: listed tracks replace their state, others keep theirs;
// the estimate is replaced. It returns a copy of the update.
func (r *roomState) applyStreamState(u *cascadev1.StreamStateUpdate) *cascadev1.StreamStateUpdate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.streams == nil {
		r.streams = map[string]*cascadev1.StreamStateInfo{}
	}
	for _, s := range u.GetStreams() {
		if s.GetTrackSid() != "" {
			r.streams[s.GetTrackSid()] = clone(s)
		}
	}
	r.estimate = u.GetEstimateBps()
	cp := clone(u)
	if cp == nil {
		cp = &cascadev1.StreamStateUpdate{}
	}
	return cp
}

func (r *roomState) streamStateMap() map[string]*cascadev1.StreamStateInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]*cascadev1.StreamStateInfo, len(r.streams))
	for sid, s := range r.streams {
		out[sid] = clone(s)
	}
	return out
}

func (r *roomState) streamState(sid string) *cascadev1.StreamStateInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(r.streams[sid])
}

func (r *roomState) estimateBps() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.estimate
}

// forgetStream drops what is known of receiving a track (it was unsubscribed).
func (r *roomState) forgetStream(sid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.streams, sid)
}

// forgetTrackLocked drops every per-track record of a track that went away.
func (r *roomState) forgetTrackLocked(sid string) {
	delete(r.streams, sid)
	delete(r.settings, sid)
	delete(r.layers, sid)
}

// setSubscribedLayers records a dynacast update for a local track and returns the layers
// as recorded (shared: callers copy before handing them out).
func (r *roomState) setSubscribedLayers(sid string, layers []*cascadev1.SubscribedLayer) []*cascadev1.SubscribedLayer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.layers == nil {
		r.layers = map[string][]*cascadev1.SubscribedLayer{}
	}
	cp := cloneLayers(layers)
	if cp == nil {
		cp = []*cascadev1.SubscribedLayer{}
	}
	r.layers[sid] = cp
	return cp
}

// subscribedLayers returns the recorded layers of a local track (shared, read-only: updates
// replace the slice, never modify it), or nil.
func (r *roomState) subscribedLayers(sid string) []*cascadev1.SubscribedLayer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clip(r.layers[sid])
}
