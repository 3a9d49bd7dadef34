package sfu

import (
	"fmt"
	"slices"
)

// Operations an app server performs on a room's participants (the gRPC edge calls them).
// Participants are named by identity, which is unique in a room.

// ParticipantUpdate changes a participant; nil fields stay as they are.
type ParticipantUpdate struct {
	Name     *string
	Metadata *string
	// Permission replaces the participant's permission, applied at once: taking publishing
	// away unpublishes the tracks no longer allowed, taking subscribing away stops every
	// subscription. Hidden is fixed at join and must not change.
	Permission *Permission
}

// maxTracksPerCall bounds the track sids of one subscription change.
const maxTracksPerCall = 256

// ParticipantInfos returns every participant (hidden ones too), in join order.
func (r *Room) ParticipantInfos() ([]ParticipantInfo, error) {
	var ps []*Participant
	var open bool
	r.ops.Do(func() {
		if !r.closed {
			ps, open = slices.Clone(r.order), true
		}
	})
	if !open {
		return nil, r.goneErr()
	}
	out := make([]ParticipantInfo, len(ps))
	for i, p := range ps {
		out[i] = p.Info()
	}
	return out, nil
}

// FindParticipant returns the participant with identity.
func (r *Room) FindParticipant(identity string) (*Participant, error) {
	if err := validateID("identity", identity); err != nil {
		return nil, err
	}
	for _, p := range r.snapshot() {
		if p.identity == identity {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: no participant %q in room %q", ErrParticipantMissing, identity, r.name)
}

// RemoveParticipant disconnects a participant, telling it it was removed. It returns the
// participant as it was.
func (r *Room) RemoveParticipant(identity string) (ParticipantInfo, error) {
	if err := validateID("identity", identity); err != nil {
		return ParticipantInfo{}, err
	}
	var info ParticipantInfo
	var open, found bool
	r.ops.Do(func() {
		if r.closed {
			return
		}
		open = true
		for _, p := range r.order {
			if p.identity == identity {
				info, found = p.Info(), true
				r.removeLocked(p, LeaveRemoved)
				if len(r.participants) == 0 {
					r.emptiedLocked()
				}
				return
			}
		}
	})
	switch {
	case !open:
		return ParticipantInfo{}, r.goneErr()
	case !found:
		return ParticipantInfo{}, fmt.Errorf("%w: no participant %q in room %q", ErrParticipantMissing, identity, r.name)
	}
	return info, nil
}

// UpdateParticipant changes a participant's name, metadata or permission. When it
// returns, a revoked permission has taken effect; everyone in the room (the participant
// too) then hears a participant update.
func (r *Room) UpdateParticipant(identity string, u ParticipantUpdate) (ParticipantInfo, error) {
	if u.Name != nil {
		if err := validateText("name", *u.Name, maxNameLen); err != nil {
			return ParticipantInfo{}, err
		}
	}
	if u.Metadata != nil {
		if err := r.sfu.validateMetadata("participant metadata", *u.Metadata); err != nil {
			return ParticipantInfo{}, err
		}
	}
	p, err := r.FindParticipant(identity)
	if err != nil {
		return ParticipantInfo{}, err
	}
	if u.Permission != nil && u.Permission.Hidden != p.perm().Hidden {
		return ParticipantInfo{}, fmt.Errorf("%w: hidden is set by the access token at join and cannot change; send hidden=%v", ErrInvalidArgument, p.perm().Hidden)
	}
	if err := p.update(u); err != nil {
		return ParticipantInfo{}, r.participantErr(identity, err)
	}
	return p.Info(), nil
}

// update applies u on the participant's queue, where publishing and subscribing also run,
// so nothing is published or subscribed under the old permission once it returns.
func (p *Participant) update(u ParticipantUpdate) error {
	return p.do(func() error {
		p.infoMu.Lock()
		old := p.permission
		if u.Name != nil {
			p.name = *u.Name
		}
		if u.Metadata != nil {
			p.metadata = *u.Metadata
		}
		if u.Permission != nil {
			perm := *u.Permission
			perm.Sources = slices.Clone(perm.Sources)
			p.permission = perm
		}
		now := p.permission
		var revoked []string
		for _, t := range p.trackOrder {
			if !now.SourceAllowed(t.source) {
				revoked = append(revoked, t.sid)
			}
		}
		for cid, t := range p.pending {
			if !now.SourceAllowed(t.source) {
				delete(p.pending, cid)
			}
		}
		p.infoMu.Unlock()

		for _, sid := range revoked {
			p.unpublishLocked(sid, true)
		}
		changed := false
		switch {
		case old.CanSubscribe && !now.CanSubscribe:
			for sid := range p.subs {
				changed = p.unsubscribeLocked(sid) || changed
			}
		case !old.CanSubscribe && now.CanSubscribe && p.autoSub:
			for _, o := range p.room.snapshot() {
				for _, t := range o.publishedTracks() {
					changed = p.subscribeLocked(t) || changed
				}
			}
		}
		if changed {
			p.negotiateLocked()
		}
		if len(revoked) > 0 || changed {
			p.log.Info("permission changed", "publish", now.CanPublish, "subscribe", now.CanSubscribe,
				"data", now.CanPublishData, "unpublished", len(revoked))
		}
		p.room.participantUpdated(p)
		return nil
	})
}

// participantUpdated tells the room (and the participant) about p's current state.
func (r *Room) participantUpdated(p *Participant) {
	r.ops.Push(func() {
		if r.participants[p.sid] != p || r.closed {
			return
		}
		e := ParticipantUpdatedEvent{Participant: p.Info()}
		hidden := p.perm().Hidden
		r.eventLocked(e, nil, !hidden)
		if hidden {
			p.sink.SendEvent(e)
		}
	})
}

// MutePublishedTrack mutes or unmutes a participant's track on its behalf. Everyone, the
// publisher included, hears of it; the publisher's client is expected to stop sending.
func (r *Room) MutePublishedTrack(identity, trackSID string, muted bool) (TrackInfo, error) {
	if err := validateID("track sid", trackSID); err != nil {
		return TrackInfo{}, err
	}
	p, err := r.FindParticipant(identity)
	if err != nil {
		return TrackInfo{}, err
	}
	info, err := p.setTrackMuted(trackSID, muted, true)
	if err != nil {
		return TrackInfo{}, r.participantErr(identity, err)
	}
	return info, nil
}

// UpdateSubscriptions subscribes a participant to tracks, or unsubscribes it, on its
// behalf, and returns the sids of every track it receives afterwards. Subscribing checks
// every track first and changes nothing if one is unknown; unsubscribing from a track not
// received is not an error.
func (r *Room) UpdateSubscriptions(identity string, trackSIDs []string, subscribe bool) ([]string, error) {
	if len(trackSIDs) == 0 {
		return nil, fmt.Errorf("%w: name at least one track sid", ErrInvalidArgument)
	}
	if len(trackSIDs) > maxTracksPerCall {
		return nil, fmt.Errorf("%w: %d track sids; at most %d at once", ErrInvalidArgument, len(trackSIDs), maxTracksPerCall)
	}
	for _, sid := range trackSIDs {
		if err := validateID("track sid", sid); err != nil {
			return nil, err
		}
	}
	p, err := r.FindParticipant(identity)
	if err != nil {
		return nil, err
	}
	if subscribe {
		if !p.perm().CanSubscribe {
			return nil, fmt.Errorf("%w: participant %q may not subscribe; grant can_subscribe with UpdateParticipant first", ErrPermissionDenied, identity)
		}
		published := map[string]*publishedTrack{}
		for _, o := range r.snapshot() {
			for _, t := range o.publishedTracks() {
				published[t.sid] = t
			}
		}
		for _, sid := range trackSIDs {
			t := published[sid]
			if t == nil {
				return nil, fmt.Errorf("%w: no track %s is published in room %q", ErrTrackNotFound, sid, r.name)
			}
			if t.owner == p {
				return nil, fmt.Errorf("%w: participant %q publishes track %s itself", ErrInvalidArgument, identity, sid)
			}
		}
	}
	res, err := p.UpdateSubscription(trackSIDs, subscribe)
	if err != nil {
		return nil, r.participantErr(identity, err)
	}
	for _, x := range res {
		if x.Err != nil {
			return nil, fmt.Errorf("track %s: %w", x.TrackSID, x.Err)
		}
	}
	subs := p.Subscriptions()
	slices.Sort(subs)
	return subs, nil
}

// SendData sends a data message from the server to everyone in the room, or only to the
// named identities (each of which must be in the room). It returns how many participants
// it went to.
func (r *Room) SendData(m DataMessage) (int, error) {
	codec := r.sfu.data
	if codec == nil {
		return 0, fmt.Errorf("%w: this node has no data codec", ErrInvalidArgument)
	}
	if err := validateText("topic", m.Topic, maxNameLen); err != nil {
		return 0, err
	}
	if len(m.DestinationIdentities) > maxTracksPerCall {
		return 0, fmt.Errorf("%w: %d destination identities; at most %d", ErrInvalidArgument, len(m.DestinationIdentities), maxTracksPerCall)
	}
	participants := r.snapshot()
	for _, id := range m.DestinationIdentities {
		if err := validateID("destination identity", id); err != nil {
			return 0, err
		}
		if !slices.ContainsFunc(participants, func(p *Participant) bool { return p.identity == id }) {
			return 0, fmt.Errorf("%w: no participant %q in room %q to send to", ErrParticipantMissing, id, r.name)
		}
	}
	m.SenderSID, m.SenderIdentity = "", ""
	out, err := codec.EncodeData(m)
	if err != nil {
		return 0, fmt.Errorf("%w: encoding the message: %v", ErrInvalidArgument, err)
	}
	if max := r.sfu.cfg.MaxDataMessageBytes; len(out) > max {
		return 0, fmt.Errorf("%w: the message encodes to %d bytes (payload %d bytes); the limit is %d", ErrInvalidArgument, len(out), len(m.Payload), max)
	}
	n := 0
	for _, p := range participants {
		if len(m.DestinationIdentities) > 0 && !slices.Contains(m.DestinationIdentities, p.identity) {
			continue
		}
		p.sendData(out, m.Reliable)
		n++
	}
	return n, nil
}

// participantErr explains that a participant left while an operation was under way.
func (r *Room) participantErr(identity string, err error) error {
	if err == ErrParticipantClosed {
		return fmt.Errorf("%w: participant %q left room %q", ErrParticipantMissing, identity, r.name)
	}
	return err
}
