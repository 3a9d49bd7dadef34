package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// RemoteTrack is a track the SFU forwards to this client.
type RemoteTrack struct {
	ParticipantSID      string // the publisher, from the stream id "<participantSid>|<trackSid>"
	ParticipantIdentity string // from the room state when the track arrived ("" if unknown then)
	TrackSID            string
	// Info is the track as the room state knew it when the track arrived (nil if it did not
	// yet); Client.Track gives the current one.
	Info      *cascadev1.TrackInfo
	Track     *webrtc.TrackRemote
	Receiver  *webrtc.RTPReceiver
	ArrivedAt time.Time // when the first packet arrived (pion's OnTrack)
}

// Kind is the track's media kind.
func (t *RemoteTrack) Kind() webrtc.RTPCodecType { return t.Track.Kind() }

// ReadRTP reads the next packet (see webrtc.TrackRemote.ReadRTP).
func (t *RemoteTrack) ReadRTP() (*rtp.Packet, error) {
	p, _, err := t.Track.ReadRTP()
	return p, err
}

// subscriber is the connection the SFU offers: forwarded tracks and its data channels.
type subscriber struct {
	c     *Client
	pc    *webrtc.PeerConnection
	cands *candidates

	mu      sync.Mutex                     // guards the fields below
	tracks  map[string]*RemoteTrack        // by track sid
	waiters map[string][]chan error        // pending Subscribe/Unsubscribe answers, by track sid
	dcs     map[string]*webrtc.DataChannel // the SFU's channels, by label
}

func newSubscriber(c *Client, cfg webrtc.Configuration) (*subscriber, error) {
	api, err := newAPI(Subscriber, &c.cfg, nil)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	s := &subscriber{
		c:       c,
		pc:      pc,
		cands:   &candidates{role: Subscriber, send: c.send},
		tracks:  map[string]*RemoteTrack{},
		waiters: map[string][]chan error{},
		dcs:     map[string]*webrtc.DataChannel{},
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if err := s.cands.local(cand); err != nil && c.ctx.Err() == nil {
			c.log.Warn("cannot send subscriber ICE candidate", "err", err)
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { c.onConnState(Subscriber, st) })
	pc.OnTrack(s.onTrack)
	pc.OnDataChannel(s.onDataChannel)
	return s, nil
}

// handleOffer answers an SFU offer with the same id. It runs on the read loop, so offers and
// the candidates after them are applied in order.
func (s *subscriber) handleOffer(sd *cascadev1.SessionDescription) {
	if t := sd.GetType(); t != "" && t != "offer" {
		s.c.log.Warn("subscriber offer with wrong type", "type", t)
	}
	err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.GetSdp()})
	if err != nil {
		s.c.disconnect(&DisconnectError{Message: "cannot apply the subscriber offer", Err: err})
		return
	}
	for _, err := range s.cands.remoteDescriptionSet(s.pc) {
		s.c.log.Warn("buffered subscriber candidate rejected", "err", err)
	}
	answer, err := s.pc.CreateAnswer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(answer)
	}
	if err != nil {
		s.c.disconnect(&DisconnectError{Message: "cannot answer the subscriber offer", Err: err})
		return
	}
	err = s.c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Answer{
		Answer: &cascadev1.SessionDescription{Type: "answer", Sdp: answer.SDP, Id: sd.GetId()},
	}})
	if err == nil {
		err = s.cands.localDescriptionSent()
	}
	if err != nil && s.c.ctx.Err() == nil {
		s.c.log.Warn("cannot send subscriber answer", "err", err)
	}
}

// parseStreamID splits the "<participantSid>|<trackSid>" stream id the SFU puts in a=msid.
func parseStreamID(streamID, trackID string) (participantSid, trackSid string) {
	if p, t, ok := strings.Cut(streamID, "|"); ok {
		return p, t
	}
	return "", trackID
}

// onTrack runs on a goroutine pion starts for each new remote track. The client counts it as
// its own while it runs, so Close waits for the handler to return.
func (s *subscriber) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	if !s.c.wg.enter() {
		return
	}
	defer s.c.wg.exit()
	psid, tsid := parseStreamID(t.StreamID(), t.ID())
	rt := &RemoteTrack{ParticipantSID: psid, TrackSID: tsid, Track: t, Receiver: r, ArrivedAt: time.Now()}
	if p, info := s.c.room.track(tsid); info != nil {
		rt.ParticipantIdentity, rt.Info = p.GetIdentity(), info
	} else if p := s.c.room.participant(psid); p != nil {
		rt.ParticipantIdentity = p.GetIdentity()
	}
	s.mu.Lock()
	s.tracks[tsid] = rt
	s.mu.Unlock()
	s.c.setTiming(func(tm *Timings) {
		if tm.FirstRemoteTrack.IsZero() {
			tm.FirstRemoteTrack = rt.ArrivedAt
		}
	})
	s.c.notify()
	s.c.log.Debug("remote track", "track", tsid, "publisher", psid, "kind", t.Kind().String(), "codec", t.Codec().MimeType)

	// Reading RTCP lets the interceptors see the SFU's sender reports.
	s.c.wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := r.Read(buf); err != nil {
				return
			}
		}
	})

	h := s.c.h.snapshot().track
	if h == nil {
		buf := make([]byte, 1500)
		for {
			if _, _, err := t.Read(buf); err != nil {
				return
			}
		}
	}
	gid := goroutineID()
	s.c.cbGIDs.Store(gid, true)
	defer s.c.cbGIDs.Delete(gid)
	h(rt)
}

func (s *subscriber) remoteTracks() []*RemoteTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*RemoteTrack, 0, len(s.tracks))
	for _, t := range s.tracks {
		out = append(out, t)
	}
	return out
}

func (s *subscriber) forgetTrack(sid string) {
	s.mu.Lock()
	delete(s.tracks, sid)
	s.mu.Unlock()
}

func (s *subscriber) forgetParticipant(psid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sid, t := range s.tracks {
		if t.ParticipantSID == psid {
			delete(s.tracks, sid)
		}
	}
}

// RemoteTracks returns the tracks received so far that are still published.
func (c *Client) RemoteTracks() []*RemoteTrack { return c.sub.remoteTracks() }

// Subscribe asks to receive tracks (needed with WithAutoSubscribe(false), or after
// Unsubscribe) and waits for the server's answer for each. Refusals come back joined, each a
// *SignalError.
func (c *Client) Subscribe(trackSids ...string) error {
	return c.UpdateSubscription(context.Background(), true, trackSids...)
}

// Unsubscribe asks to stop receiving tracks and waits for the server's answers.
func (c *Client) Unsubscribe(trackSids ...string) error {
	return c.UpdateSubscription(context.Background(), false, trackSids...)
}

// UpdateSubscription sends one subscription change and waits (bounded by ctx and the request
// timeout) for the server's answer for every track.
func (c *Client) UpdateSubscription(ctx context.Context, subscribe bool, trackSids ...string) error {
	if len(trackSids) == 0 {
		return nil
	}
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	chans := make([]chan error, len(trackSids))
	c.sub.mu.Lock()
	for i, sid := range trackSids {
		chans[i] = make(chan error, 1)
		c.sub.waiters[sid] = append(c.sub.waiters[sid], chans[i])
	}
	c.sub.mu.Unlock()
	err := c.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Subscription{
		Subscription: &cascadev1.UpdateSubscription{TrackSids: trackSids, Subscribe: subscribe},
	}})
	if err != nil {
		c.sub.dropWaiters(trackSids, chans)
		return err
	}
	var errs []error
	for i, ch := range chans {
		select {
		case err := <-ch:
			if err != nil {
				errs = append(errs, fmt.Errorf("track %s: %w", trackSids[i], err))
			}
		case <-ctx.Done():
			c.sub.dropWaiters(trackSids, chans)
			return c.ctxErr(ctx, "subscription")
		}
	}
	return errors.Join(errs...)
}

func (s *subscriber) dropWaiters(sids []string, chans []chan error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, sid := range sids {
		w := s.waiters[sid]
		for j, ch := range w {
			if ch == chans[i] {
				w = append(w[:j], w[j+1:]...)
				break
			}
		}
		if len(w) == 0 {
			delete(s.waiters, sid)
		} else {
			s.waiters[sid] = w
		}
	}
}

// handleSubscription resolves the oldest waiter for the track and tells OnSubscription.
func (s *subscriber) handleSubscription(r *cascadev1.SubscriptionResponse) {
	var err error
	if r.GetError() != nil {
		err = signalError(r.GetError())
	}
	sid := r.GetTrackSid()
	s.mu.Lock()
	var ch chan error
	if w := s.waiters[sid]; len(w) > 0 {
		ch = w[0]
		if len(w) == 1 {
			delete(s.waiters, sid)
		} else {
			s.waiters[sid] = w[1:]
		}
	}
	s.mu.Unlock()
	if ch != nil {
		ch <- err
	}
	subscribed := r.GetSubscribed()
	if !subscribed && err == nil {
		s.c.room.forgetStream(sid)
	}
	s.c.emit(func(h *handlerSet) {
		if h.subscription != nil {
			h.subscription(sid, subscribed, err)
		}
	})
}

// failSubscription resolves every pending subscription waiter with a server error that names
// no track; it reports whether there was any.
func (s *subscriber) failSubscription(e *SignalError) bool {
	s.mu.Lock()
	waiters := s.waiters
	s.waiters = map[string][]chan error{}
	s.mu.Unlock()
	for _, w := range waiters {
		for _, ch := range w {
			ch <- e
		}
	}
	return len(waiters) > 0
}

// onConnState records and reports a peer connection's state. A failed connection ends the
// session: ICE gave up, and the SFU will have dropped the participant too.
func (c *Client) onConnState(role PCRole, st webrtc.PeerConnectionState) {
	c.log.Debug("peer connection state", "pc", role.String(), "state", st.String())
	if st == webrtc.PeerConnectionStateConnected {
		c.setTiming(func(t *Timings) {
			if role == Publisher && t.PublisherConnected.IsZero() {
				t.PublisherConnected = time.Now()
			}
			if role == Subscriber && t.SubscriberConnected.IsZero() {
				t.SubscriberConnected = time.Now()
			}
		})
	}
	c.notify()
	c.emit(func(h *handlerSet) {
		if h.connState != nil {
			h.connState(role, st)
		}
	})
	if st == webrtc.PeerConnectionStateFailed {
		c.disconnect(&DisconnectError{
			Reason:  cascadev1.LeaveReason_LEAVE_REASON_TRANSPORT_FAILED,
			Message: role.String() + " connection failed",
		})
	}
}
