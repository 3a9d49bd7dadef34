package client

import (
	"sync"

	"github.com/pion/webrtc/v4"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// handlerSet is the user's callbacks. Each setter replaces one; nil removes it.
type handlerSet struct {
	track              func(*RemoteTrack)
	participantJoined  func(*cascadev1.ParticipantInfo)
	participantLeft    func(*cascadev1.ParticipantInfo, cascadev1.LeaveReason)
	participantUpdated func(*cascadev1.ParticipantInfo)
	trackPublished     func(*cascadev1.ParticipantInfo, *cascadev1.TrackInfo)
	trackUnpublished   func(string, *cascadev1.TrackInfo)
	trackMuted         func(string, *cascadev1.TrackInfo, bool)
	speakersChanged    func([]*cascadev1.SpeakerInfo)
	data               func(DataPacket)
	subscription       func(string, bool, error)
	streamState        func(*cascadev1.StreamStateUpdate)
	subscribedLayers   func(string, []*cascadev1.SubscribedLayer)
	err                func(*SignalError)
	disconnected       func(*DisconnectError)
	connState          func(PCRole, webrtc.PeerConnectionState)
}

type handlers struct {
	mu  sync.Mutex // guards set
	set handlerSet
}

func (h *handlers) snapshot() handlerSet {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.set
}

func (h *handlers) update(f func(*handlerSet)) {
	h.mu.Lock()
	f(&h.set)
	h.mu.Unlock()
}

func call1[T any](f func(T), v T) {
	if f != nil {
		f(v)
	}
}

// emit queues a callback invocation; the handler is looked up when it runs, so a handler set
// after the event was queued still sees it.
func (c *Client) emit(f func(h *handlerSet)) {
	c.events.push(func() {
		hs := c.h.snapshot()
		f(&hs)
	})
}

// OnTrack sets the handler for remote tracks. It runs on a goroutine of its own per track, as
// soon as the track's first packet arrives, and may block reading the track; it must return
// once reads fail (they do when the client closes). Without a handler the client reads and
// discards the track's packets itself, so interceptors (NACK, reports) keep working.
func (c *Client) OnTrack(f func(*RemoteTrack)) { c.h.update(func(s *handlerSet) { s.track = f }) }

// OnParticipantJoined sets the handler for participants joining.
func (c *Client) OnParticipantJoined(f func(*cascadev1.ParticipantInfo)) {
	c.h.update(func(s *handlerSet) { s.participantJoined = f })
}

// OnParticipantLeft sets the handler for participants leaving (with what was known of them).
func (c *Client) OnParticipantLeft(f func(p *cascadev1.ParticipantInfo, reason cascadev1.LeaveReason)) {
	c.h.update(func(s *handlerSet) { s.participantLeft = f })
}

// OnParticipantUpdated sets the handler for participant changes (name, metadata, permissions).
func (c *Client) OnParticipantUpdated(f func(*cascadev1.ParticipantInfo)) {
	c.h.update(func(s *handlerSet) { s.participantUpdated = f })
}

// OnTrackPublished sets the handler for tracks becoming available (their media reached the SFU).
func (c *Client) OnTrackPublished(f func(p *cascadev1.ParticipantInfo, t *cascadev1.TrackInfo)) {
	c.h.update(func(s *handlerSet) { s.trackPublished = f })
}

// OnTrackUnpublished sets the handler for tracks going away.
func (c *Client) OnTrackUnpublished(f func(participantSid string, t *cascadev1.TrackInfo)) {
	c.h.update(func(s *handlerSet) { s.trackUnpublished = f })
}

// OnTrackMuted sets the handler for mute changes.
func (c *Client) OnTrackMuted(f func(participantSid string, t *cascadev1.TrackInfo, muted bool)) {
	c.h.update(func(s *handlerSet) { s.trackMuted = f })
}

// OnSpeakersChanged sets the handler for active speaker changes (loudest first).
func (c *Client) OnSpeakersChanged(f func([]*cascadev1.SpeakerInfo)) {
	c.h.update(func(s *handlerSet) { s.speakersChanged = f })
}

// OnData sets the handler for data messages.
func (c *Client) OnData(f func(DataPacket)) { c.h.update(func(s *handlerSet) { s.data = f }) }

// OnSubscription sets the handler for the server's answers to subscription changes; err is
// a *SignalError when the change was refused.
func (c *Client) OnSubscription(f func(trackSid string, subscribed bool, err error)) {
	c.h.update(func(s *handlerSet) { s.subscription = f })
}

// OnError sets the handler for server errors that answer no pending call.
func (c *Client) OnError(f func(*SignalError)) { c.h.update(func(s *handlerSet) { s.err = f }) }

// OnDisconnected sets the handler called once when the session ends, after teardown.
func (c *Client) OnDisconnected(f func(*DisconnectError)) {
	c.h.update(func(s *handlerSet) { s.disconnected = f })
}

// OnConnectionStateChange sets the handler for either peer connection's state changes.
func (c *Client) OnConnectionStateChange(f func(PCRole, webrtc.PeerConnectionState)) {
	c.h.update(func(s *handlerSet) { s.connState = f })
}
