package sfu

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Room is a set of participants who see and hear each other. Its state is owned by its
// operations queue: every change runs there, in order, so events reach every participant
// in the order they happened.
type Room struct {
	sfu       *SFU
	name      string
	sid       string
	createdAt int64
	log       *slog.Logger
	ops       *opQueue
	stop      chan struct{}

	// Owned by the ops goroutine.
	metadata     string
	participants map[string]*Participant // by sid, in join order via order
	order        []*Participant
	closed       bool
	speakers     speakerDetector

	// snap is a copy-on-write list of participants for lock-free readers (data routing).
	snap atomic.Pointer[[]*Participant]
}

func (r *Room) publishSnapshotLocked() {
	s := append([]*Participant(nil), r.order...)
	r.snap.Store(&s)
}

// snapshot returns the participants without waiting on the room's queue.
func (r *Room) snapshot() []*Participant {
	if s := r.snap.Load(); s != nil {
		return *s
	}
	return nil
}

func newRoom(s *SFU, name string) *Room {
	r := &Room{
		sfu: s, name: name, sid: newID("RM_"), createdAt: nowMs(),
		log: s.log.With("room", name), ops: newOpQueue(), stop: make(chan struct{}),
		participants: map[string]*Participant{},
	}
	r.speakers.init()
	s.wg.Add(1)
	go r.tick(s.cfg.SpeakerInterval)
	return r
}

// tick schedules the periodic room work (active speakers) until the room closes.
func (r *Room) tick(every time.Duration) {
	defer r.sfu.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.ops.Push(r.updateSpeakers)
		case <-r.stop:
			return
		}
	}
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// Info returns a snapshot of the room.
func (r *Room) Info() (info RoomInfo) {
	r.ops.Do(func() { info = r.infoLocked() })
	return info
}

func (r *Room) infoLocked() RoomInfo {
	return RoomInfo{SID: r.sid, Name: r.name, Metadata: r.metadata, CreatedAtMs: r.createdAt,
		NumParticipants: uint32(len(r.participants)), MaxParticipants: uint32(r.sfu.cfg.MaxParticipants)}
}

// Participants returns the room's participants in join order.
func (r *Room) Participants() []*Participant {
	var out []*Participant
	r.ops.Do(func() { out = append(out, r.order...) })
	return out
}

// join runs the join on the room's queue.
func (r *Room) join(p JoinParams, sink Sink) (part *Participant, err error) {
	if !r.ops.Do(func() {
		part, err = r.joinLocked(p, sink)
		if err != nil && err != ErrRoomClosed && len(r.participants) == 0 {
			r.closeLocked()
		}
	}) {
		return nil, ErrRoomClosed
	}
	return part, err
}

func (r *Room) joinLocked(jp JoinParams, sink Sink) (*Participant, error) {
	if r.closed {
		return nil, ErrRoomClosed
	}
	var dup *Participant
	for _, o := range r.order {
		if o.identity == jp.Identity {
			dup = o
		}
	}
	if max := r.sfu.cfg.MaxParticipants; max > 0 && len(r.participants)-btoi(dup != nil) >= max {
		return nil, ErrRoomFull
	}
	if dup != nil {
		r.removeLocked(dup, LeaveDuplicateIdentity)
	}
	p, err := newParticipant(r, jp, sink)
	if err != nil {
		return nil, err
	}
	r.participants[p.sid] = p
	r.order = append(r.order, p)
	info := p.Info()
	res := &JoinResult{Room: r.infoLocked(), Participant: info, ICEServers: r.sfu.tr.ICEServers()}
	var existing []*publishedTrack
	for _, o := range r.order {
		if o == p {
			continue
		}
		if !o.perm().Hidden {
			res.Others = append(res.Others, o.Info())
		}
		existing = append(existing, o.publishedTracks()...)
	}
	sink.SendJoin(res)
	if !jp.Permission.Hidden {
		r.broadcastLocked(ParticipantJoinedEvent{Participant: info}, p)
	}
	r.publishSnapshotLocked()
	p.start(existing)
	r.log.Info("participant joined", "participant", p.sid, "identity", p.identity, "count", len(r.participants))
	return p, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// broadcastLocked sends e to every participant but except.
func (r *Room) broadcastLocked(e Event, except *Participant) {
	for _, p := range r.order {
		if p != except {
			p.sink.SendEvent(e)
		}
	}
}

// trackPublished announces a track whose media started and subscribes the others.
func (r *Room) trackPublished(pub *Participant, t *publishedTrack) {
	r.ops.Push(func() {
		if r.participants[pub.sid] != pub || t.recv() == nil {
			return
		}
		r.broadcastLocked(TrackPublishedEvent{ParticipantSID: pub.sid, Track: t.info()}, pub)
		for _, p := range r.order {
			if p != pub {
				p.autoSubscribe(t)
			}
		}
	})
}

// trackUnpublished announces that a track went away.
func (r *Room) trackUnpublished(pub *Participant, sid string) {
	r.ops.Push(func() {
		if r.participants[pub.sid] != pub {
			return
		}
		r.broadcastLocked(TrackUnpublishedEvent{ParticipantSID: pub.sid, TrackSID: sid}, pub)
	})
}

// emit broadcasts e to everyone but except, in room order.
func (r *Room) emit(e Event, except *Participant) {
	r.ops.Push(func() {
		if except != nil && r.participants[except.sid] != except {
			return
		}
		r.broadcastLocked(e, except)
	})
}

// leave removes p from the room (if still there).
func (r *Room) leave(p *Participant, reason LeaveReason) {
	r.ops.Push(func() {
		if r.participants[p.sid] == p {
			r.removeLocked(p, reason)
			if len(r.participants) == 0 {
				r.closeLocked()
			}
		}
	})
}

func (r *Room) removeLocked(p *Participant, reason LeaveReason) {
	delete(r.participants, p.sid)
	for i, o := range r.order {
		if o == p {
			r.order = append(r.order[:i:i], r.order[i+1:]...)
			break
		}
	}
	r.speakers.forget(p.sid)
	r.publishSnapshotLocked()
	if !p.perm().Hidden {
		for _, t := range p.publishedTracks() {
			r.broadcastLocked(TrackUnpublishedEvent{ParticipantSID: p.sid, TrackSID: t.sid}, p)
		}
		r.broadcastLocked(ParticipantLeftEvent{ParticipantSID: p.sid, Identity: p.identity, Reason: reason}, p)
	}
	p.close(reason)
	r.log.Info("participant left", "participant", p.sid, "identity", p.identity, "reason", reason.String(), "count", len(r.participants))
}

// close removes everyone and stops the room.
func (r *Room) close(reason LeaveReason) {
	r.ops.Push(func() {
		for len(r.order) > 0 {
			r.removeLocked(r.order[0], reason)
		}
		r.closeLocked()
	})
}

func (r *Room) closeLocked() {
	if r.closed {
		return
	}
	r.closed = true
	close(r.stop)
	r.sfu.roomEmpty(r)
	r.ops.Stop()
}

// forEachParticipant calls f for every participant, on the room's queue, and waits.
func (r *Room) forEachParticipant(f func(p *Participant)) {
	r.ops.Do(func() {
		for _, p := range r.order {
			f(p)
		}
	})
}

// updateSpeakers feeds the audio levels of the last interval to the detector and tells
// everyone when the set of active speakers changes.
func (r *Room) updateSpeakers() {
	if r.closed {
		return
	}
	for _, p := range r.order {
		var loud float64
		var packets int64
		for _, t := range p.publishedTracks() {
			if t.kind != KindAudio || t.recv() == nil || t.muted() {
				continue
			}
			l, _, n := t.recv().TakeAudioLevel()
			if n > 0 && l > loud {
				loud = l
			}
			packets += n
		}
		r.speakers.observe(p.sid, loud, packets)
	}
	if speakers, changed := r.speakers.update(); changed {
		r.broadcastLocked(SpeakersChangedEvent{Speakers: speakers}, nil)
	}
}
