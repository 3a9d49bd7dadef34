package sfu

import (
	"fmt"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/router"
)

// autoSubscribe is called by the room when a track starts; it subscribes if this
// participant takes everything.
func (p *Participant) autoSubscribe(t *publishedTrack) {
	if !p.autoSub || !p.perm().CanSubscribe {
		return
	}
	p.ops.Push(func() {
		// The permission is checked again here: it may have been revoked since.
		if !p.closed.Load() && p.perm().CanSubscribe && p.subscribeLocked(t) {
			p.negotiateLocked()
		}
	})
}

// subscribeLocked starts forwarding t to this participant. It reports whether anything
// changed (the caller then renegotiates).
func (p *Participant) subscribeLocked(t *publishedTrack) bool {
	if _, ok := p.subs[t.sid]; ok || t.owner == p {
		return false
	}
	recv := t.recv()
	if recv == nil {
		return false
	}
	var dt *router.DownTrack
	dt = router.NewDownTrack(router.DownTrackConfig{
		ID: t.sid, StreamID: t.owner.sid + "|" + t.sid, Receiver: recv, Listener: p,
		// The connection's direct path reads the subscriber's RTCP off the socket and
		// hands this track's to it; readSenderRTCP gets what pion's path still carries.
		Writer: p.cc.Writer(func(pkts []rtcp.Packet) { dt.HandleRTCP(pkts) }),
	})
	sender, err := p.sub.AddTrack(dt)
	if err != nil {
		p.log.Warn("cannot add down track", "track", t.sid, "err", err)
		return false
	}
	if err := recv.AddDownTrack(dt); err != nil {
		_ = p.sub.RemoveTrack(sender)
		return false
	}
	p.subs[t.sid] = &subscription{track: t, dt: dt, sender: sender}
	p.allocateLocked(time.Now(), false)
	p.wg.Add(1)
	go p.readSenderRTCP(sender, dt)
	return true
}

// readSenderRTCP feeds the subscriber's RTCP about one down track to it (NACK, PLI,
// receiver reports) until the sender stops.
func (p *Participant) readSenderRTCP(s *webrtc.RTPSender, dt *router.DownTrack) {
	defer p.wg.Done()
	// One buffer for the goroutine's life, and the packets the congestion interceptor
	// already parsed (it leaves them in the attributes): RTPSender.ReadRTCP would allocate
	// a buffer and parse every compound packet again.
	buf := make([]byte, rtcpReadBuffer)
	for {
		n, attr, err := s.Read(buf)
		if err != nil {
			return
		}
		pkts, err := attr.GetRTCPPackets(buf[:n])
		if err != nil {
			continue // malformed RTCP from the subscriber: nothing to act on
		}
		dt.HandleRTCP(pkts)
	}
}

// rtcpReadBuffer holds one RTCP compound packet from a subscriber (a UDP datagram within
// the path MTU).
const rtcpReadBuffer = 1500

func (p *Participant) unsubscribeLocked(sid string) bool {
	s, ok := p.subs[sid]
	if !ok {
		return false
	}
	delete(p.subs, sid)
	s.dt.Close()
	if err := p.sub.RemoveTrack(s.sender); err != nil {
		p.log.Debug("removing down track", "track", sid, "err", err)
	}
	return true
}

// OnDownTrackClosed implements router.DownTrackListener: the publisher's track is gone.
func (p *Participant) OnDownTrackClosed(dt *router.DownTrack) {
	p.ops.Push(func() {
		if p.closed.Load() {
			return
		}
		if s, ok := p.subs[dt.ID()]; ok && s.dt == dt && p.unsubscribeLocked(dt.ID()) {
			p.negotiateLocked()
		}
	})
}

// SubscriptionResult is the outcome for one track of UpdateSubscription.
type SubscriptionResult struct {
	TrackSID   string
	Subscribed bool
	Err        error
}

// UpdateSubscription subscribes to or unsubscribes from tracks by sid.
func (p *Participant) UpdateSubscription(sids []string, subscribe bool) ([]SubscriptionResult, error) {
	if len(sids) > 256 {
		return nil, fmt.Errorf("%w: at most 256 tracks at once", ErrInvalidArgument)
	}
	var tracks map[string]*publishedTrack
	if subscribe {
		if !p.perm().CanSubscribe {
			return nil, fmt.Errorf("%w: may not subscribe", ErrPermissionDenied)
		}
		tracks = map[string]*publishedTrack{}
		for _, o := range p.room.snapshot() {
			for _, t := range o.publishedTracks() {
				tracks[t.sid] = t
			}
		}
	}
	var out []SubscriptionResult
	err := p.do(func() error {
		if subscribe && !p.perm().CanSubscribe {
			return fmt.Errorf("%w: may not subscribe", ErrPermissionDenied) // revoked meanwhile
		}
		changed := false
		for _, sid := range sids {
			res := SubscriptionResult{TrackSID: sid}
			if subscribe {
				t := tracks[sid]
				switch {
				case t == nil:
					res.Err = ErrTrackNotFound
				case t.owner == p:
					res.Err = fmt.Errorf("%w: cannot subscribe to an own track", ErrInvalidArgument)
				default:
					if p.subscribeLocked(t) {
						changed = true
					}
					_, res.Subscribed = p.subs[sid]
				}
			} else if p.unsubscribeLocked(sid) {
				changed = true
			}
			out = append(out, res)
		}
		if changed {
			p.negotiateLocked()
		}
		return nil
	})
	return out, err
}

// negotiateLocked sends a subscriber offer, or notes that one is needed once the
// outstanding offer is answered: offers never overlap.
func (p *Participant) negotiateLocked() {
	if p.closed.Load() {
		return
	}
	if p.negotiating {
		p.renegotiate = true
		return
	}
	offer, err := p.sub.CreateOffer(nil)
	if err == nil {
		err = p.sub.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Error("subscriber offer failed", "err", err)
		p.room.leave(p, LeaveTransportFailed)
		return
	}
	p.offerID++
	p.negotiating = true
	id := p.offerID
	p.negTimer = time.AfterFunc(p.sfu.cfg.NegotiationTimeout, func() {
		p.ops.Push(func() {
			if p.negotiating && p.offerID == id && !p.closed.Load() {
				p.log.Warn("subscriber did not answer in time", "offer", id)
				p.room.leave(p, LeaveTimeout)
			}
		})
	})
	p.sink.SendOffer(offer, id)
}

// HandleAnswer applies the client's answer to the SFU's subscriber offer.
func (p *Participant) HandleAnswer(answer webrtc.SessionDescription, id uint32) error {
	return p.do(func() error {
		if answer.Type != webrtc.SDPTypeAnswer {
			return fmt.Errorf("%w: expected an answer", ErrBadSDP)
		}
		if !p.negotiating || (id != 0 && id != p.offerID) {
			return ErrUnexpectedAnswer
		}
		if err := p.sub.SetRemoteDescription(answer); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSDP, err)
		}
		p.negotiating = false
		if p.negTimer != nil {
			p.negTimer.Stop()
		}
		p.flushCandidatesLocked(TargetSubscriber)
		if p.renegotiate {
			p.renegotiate = false
			p.negotiateLocked()
		}
		return nil
	})
}

// layerActiveWindow is how recently a layer must have delivered media to count as sent.
// Chromium pauses and resumes its upper layers as its own bandwidth estimate moves; a
// subscriber on a paused layer is moved down once the window passes.
const layerActiveWindow = 700 * time.Millisecond

// layerSettle is how long a layer must have been sent without a pause before its measured
// bitrate is taken as it is.
const layerSettle = time.Second

// Subscriptions returns the sids of the tracks this participant receives.
func (p *Participant) Subscriptions() []string {
	var out []string
	p.ops.Do(func() {
		for sid := range p.subs {
			out = append(out, sid)
		}
	})
	return out
}

// DownTrackStats returns forwarding counters for each subscribed track.
func (p *Participant) DownTrackStats() map[string]router.DownTrackStats {
	out := map[string]router.DownTrackStats{}
	p.ops.Do(func() {
		for sid, s := range p.subs {
			out[sid] = s.dt.Stats()
		}
	})
	return out
}

// senderReportInterval is how often the subscriber connection sends RTCP sender reports
// (RFC 3550 section 6.2 suggests 5 s for a session's total; receivers use them for round
// trip time and audio/video synchronisation, and libwebrtc sends them every second).
const senderReportInterval = time.Second

// srPerPacket bounds the sender reports in one compound RTCP packet (28 bytes each), so
// it stays within one datagram.
const srPerPacket = 32

// sendSenderReportsLocked sends a sender report for every down track that has sent media.
func (p *Participant) sendSenderReportsLocked(now time.Time) {
	if p.closed.Load() {
		return
	}
	batch := make([]rtcp.Packet, 0, min(len(p.subs), srPerPacket))
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := p.sub.WriteRTCP(batch); err != nil {
			p.log.Debug("sender reports", "err", err)
		}
		batch = batch[:0]
	}
	for _, s := range p.subs {
		sr, ok := s.dt.SenderReport(now)
		if !ok {
			continue
		}
		batch = append(batch, &sr)
		if len(batch) == srPerPacket {
			flush()
		}
	}
	flush()
}
