package client

import (
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// roomState is the client's view of the room, kept from the join response and the room events.
// Everything it hands out is a deep copy, so callers may keep and modify what they get.
type roomState struct {
	mu       sync.Mutex // guards every field below
	room     *cascadev1.Room
	local    *cascadev1.ParticipantInfo
	others   map[string]*cascadev1.ParticipantInfo // by participant sid
	speakers []*cascadev1.SpeakerInfo

	// Quality (quality.go), by track sid: the stream state of received tracks, the settings
	// last sent for them, and the dynacast layers of local tracks.
	streams  map[string]*cascadev1.StreamStateInfo
	estimate uint64 // bits/s, from the last stream state
	settings map[string]*cascadev1.UpdateTrackSettings
	layers   map[string][]*cascadev1.SubscribedLayer
}

func newRoomState(j *cascadev1.JoinResponse) *roomState {
	r := &roomState{
		room:   clone(j.GetRoom()),
		local:  clone(j.GetParticipant()),
		others: map[string]*cascadev1.ParticipantInfo{},
	}
	if r.room == nil {
		r.room = &cascadev1.Room{}
	}
	if r.local == nil {
		r.local = &cascadev1.ParticipantInfo{}
	}
	for _, p := range j.GetOthers() {
		if p.GetSid() != "" {
			r.others[p.GetSid()] = clone(p)
		}
	}
	return r
}

// clone deep-copies a message; a nil message stays nil.
func clone[T proto.Message](m T) T {
	if !m.ProtoReflect().IsValid() {
		var zero T
		return zero
	}
	return proto.Clone(m).(T)
}

// participantLocked finds a participant (the local one too) by sid.
func (r *roomState) participantLocked(sid string) *cascadev1.ParticipantInfo {
	if sid == r.local.GetSid() {
		return r.local
	}
	return r.others[sid]
}

func (r *roomState) roomInfo() *cascadev1.Room {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(r.room)
}

func (r *roomState) localInfo() *cascadev1.ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(r.local)
}

// participants returns the other participants, ordered by join time then sid.
func (r *roomState) participants() []*cascadev1.ParticipantInfo {
	r.mu.Lock()
	out := make([]*cascadev1.ParticipantInfo, 0, len(r.others))
	for _, p := range r.others {
		out = append(out, clone(p))
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *cascadev1.ParticipantInfo) int {
		if a.GetJoinedAtMs() != b.GetJoinedAtMs() {
			return int(a.GetJoinedAtMs() - b.GetJoinedAtMs())
		}
		if a.GetSid() < b.GetSid() {
			return -1
		}
		return 1
	})
	return out
}

func (r *roomState) participant(sid string) *cascadev1.ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return clone(r.participantLocked(sid))
}

func (r *roomState) byIdentity(identity string) *cascadev1.ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.others {
		if p.GetIdentity() == identity {
			return clone(p)
		}
	}
	if r.local.GetIdentity() == identity {
		return clone(r.local)
	}
	return nil
}

// track finds a track by sid and returns copies of it and its publisher.
func (r *roomState) track(sid string) (*cascadev1.ParticipantInfo, *cascadev1.TrackInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.others {
		for _, t := range p.GetTracks() {
			if t.GetSid() == sid {
				return clone(p), clone(t)
			}
		}
	}
	for _, t := range r.local.GetTracks() {
		if t.GetSid() == sid {
			return clone(r.local), clone(t)
		}
	}
	return nil, nil
}

func (r *roomState) speakerList() []*cascadev1.SpeakerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*cascadev1.SpeakerInfo, len(r.speakers))
	for i, s := range r.speakers {
		out[i] = clone(s)
	}
	return out
}

// joined records a participant; it returns a copy, or nil for the local participant.
func (r *roomState) joined(p *cascadev1.ParticipantInfo) *cascadev1.ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.GetSid() == "" || p.GetSid() == r.local.GetSid() {
		return nil
	}
	cp := clone(p)
	r.others[p.GetSid()] = cp
	r.room.NumParticipants = uint32(len(r.others) + 1)
	return clone(cp)
}

// left forgets a participant; it returns what was known of it (nil if nothing).
func (r *roomState) left(sid, identity string) *cascadev1.ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	for tsid, s := range r.streams {
		if s.GetParticipantSid() == sid {
			r.forgetTrackLocked(tsid)
		}
	}
	p, ok := r.others[sid]
	if !ok {
		return &cascadev1.ParticipantInfo{Sid: sid, Identity: identity}
	}
	for _, t := range p.GetTracks() {
		r.forgetTrackLocked(t.GetSid())
	}
	delete(r.others, sid)
	r.room.NumParticipants = uint32(len(r.others) + 1)
	return p
}

// updated merges a participant update: an update without tracks keeps the known ones (track
// changes come as their own events).
func (r *roomState) updated(p *cascadev1.ParticipantInfo) *cascadev1.ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.participantLocked(p.GetSid())
	cp := clone(p)
	if cur != nil && len(cp.GetTracks()) == 0 {
		cp.Tracks = cur.Tracks
	}
	if p.GetSid() == r.local.GetSid() {
		r.local = cp
	} else {
		r.others[p.GetSid()] = cp
	}
	return clone(cp)
}

// trackPublished adds or replaces a track; a publisher not yet known is recorded with just
// its sid (its participantJoined may follow).
func (r *roomState) trackPublished(participantSid string, t *cascadev1.TrackInfo) (*cascadev1.ParticipantInfo, *cascadev1.TrackInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.participantLocked(participantSid)
	if p == nil {
		p = &cascadev1.ParticipantInfo{Sid: participantSid}
		r.others[participantSid] = p
	}
	cp := clone(t)
	if cp.ParticipantSid == "" {
		cp.ParticipantSid = participantSid
	}
	replaced := false
	for i, old := range p.Tracks {
		if old.GetSid() == t.GetSid() {
			p.Tracks[i] = cp
			replaced = true
		}
	}
	if !replaced {
		p.Tracks = append(p.Tracks, cp)
	}
	return clone(p), clone(cp)
}

// trackUnpublished removes a track and returns it (a stub with just the sid when unknown).
func (r *roomState) trackUnpublished(participantSid, trackSid string) *cascadev1.TrackInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetTrackLocked(trackSid)
	p := r.participantLocked(participantSid)
	for i, t := range p.GetTracks() {
		if t.GetSid() == trackSid {
			p.Tracks = slices.Delete(p.Tracks, i, i+1)
			return t
		}
	}
	return &cascadev1.TrackInfo{Sid: trackSid, ParticipantSid: participantSid}
}

// trackMuted records a mute change and returns a copy of the track.
func (r *roomState) trackMuted(participantSid, trackSid string, muted bool) *cascadev1.TrackInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.participantLocked(participantSid).GetTracks() {
		if t.GetSid() == trackSid {
			t.Muted = muted
			return clone(t)
		}
	}
	return &cascadev1.TrackInfo{Sid: trackSid, ParticipantSid: participantSid, Muted: muted}
}

func (r *roomState) setSpeakers(s []*cascadev1.SpeakerInfo) []*cascadev1.SpeakerInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.speakers = make([]*cascadev1.SpeakerInfo, len(s))
	out := make([]*cascadev1.SpeakerInfo, len(s))
	for i, sp := range s {
		r.speakers[i] = clone(sp)
		out[i] = clone(sp)
	}
	return out
}
