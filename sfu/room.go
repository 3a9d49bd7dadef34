package sfu

import (
	"log/slog"
	"slices"
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

	// Set at creation.
	maxParticipants int
	emptyTimeout    time.Duration // 0: close as soon as the last participant leaves

	// Owned by the ops goroutine.
	metadata     string
	participants map[string]*Participant // by sid, in join order via order
	order        []*Participant
	closed       bool
	speakers     speakerDetector
	emptyTimer   *time.Timer // runs while the room is empty and has an empty timeout
	emptyGen     uint64      // bumped to invalidate a timer that already fired

	// snap is a copy-on-write list of participants for lock-free readers (data routing).
	snap atomic.Pointer[[]*Participant]
}

// roomOptions are a new room's settings.
type roomOptions struct {
	name            string
	metadata        string
	maxParticipants int
	emptyTimeout    time.Duration
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

func newRoom(s *SFU, o roomOptions) *Room {
	r := &Room{
		sfu: s, name: o.name, sid: newID("RM_"), createdAt: nowMs(),
		log: s.log.With("room", o.name), stop: make(chan struct{}),
		maxParticipants: o.maxParticipants, emptyTimeout: o.emptyTimeout, metadata: o.metadata,
		participants: map[string]*Participant{},
	}
	// The room's first event is its creation, before anything else can be queued.
	r.ops = newOpQueue(r.createdLocked)
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
		NumParticipants: uint32(len(r.participants)), MaxParticipants: uint32(r.maxParticipants),
		EmptyTimeout: r.emptyTimeout}
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
			r.emptiedLocked()
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
	if max := r.maxParticipants; max > 0 && len(r.participants)-btoi(dup != nil) >= max {
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
	r.stopEmptyTimerLocked()
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
	r.eventLocked(ParticipantJoinedEvent{Participant: info}, p, !jp.Permission.Hidden)
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

// eventLocked records e in the room's journal (watchers see every event, hidden
// participants' too) and, when tell is set, sends it to every participant but except.
func (r *Room) eventLocked(e Event, except *Participant, tell bool) {
	if r.closed {
		return
	}
	r.sfu.events.append(r.name, r.sid, e)
	if tell {
		r.broadcastLocked(e, except)
	}
}

// createdLocked is the room's first operation.
func (r *Room) createdLocked() {
	r.sfu.events.append(r.name, r.sid, RoomCreatedEvent{Room: r.infoLocked()})
	if len(r.participants) == 0 {
		r.startEmptyTimerLocked()
	}
}

// trackPublished announces a track whose media started and subscribes the others.
func (r *Room) trackPublished(pub *Participant, t *publishedTrack) {
	r.ops.Push(func() {
		if r.participants[pub.sid] != pub || t.recv() == nil {
			return
		}
		r.eventLocked(TrackPublishedEvent{ParticipantSID: pub.sid, Track: t.info()}, pub, true)
		for _, p := range r.order {
			if p != pub {
				p.autoSubscribe(t)
			}
		}
	})
}

// trackUnpublished announces that a track went away: to the others, and to the
// publisher too when the server, not the publisher, took the track away.
func (r *Room) trackUnpublished(pub *Participant, sid string, tellPublisher bool) {
	r.ops.Push(func() {
		if r.participants[pub.sid] != pub {
			return
		}
		except := pub
		if tellPublisher {
			except = nil
		}
		r.eventLocked(TrackUnpublishedEvent{ParticipantSID: pub.sid, TrackSID: sid}, except, true)
	})
}

// emit records e and sends it to everyone but except, in room order. A nil except sends
// it to everyone; otherwise nothing happens once except has left.
func (r *Room) emit(e Event, except *Participant) {
	r.ops.Push(func() {
		if except != nil && r.participants[except.sid] != except {
			return
		}
		r.eventLocked(e, except, true)
	})
}

// emitAbout records e and sends it to everyone, p included, while p is in the room. Only p
// itself hears it when p is hidden.
func (r *Room) emitAbout(p *Participant, e Event) {
	r.ops.Push(func() {
		if r.participants[p.sid] != p {
			return
		}
		hidden := p.perm().Hidden
		r.eventLocked(e, nil, !hidden)
		if hidden && !r.closed {
			p.sink.SendEvent(e)
		}
	})
}

// leave removes p from the room (if still there).
func (r *Room) leave(p *Participant, reason LeaveReason) {
	r.ops.Push(func() {
		if r.participants[p.sid] == p {
			r.removeLocked(p, reason)
			if len(r.participants) == 0 {
				r.emptiedLocked()
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
	tell := !p.perm().Hidden
	for _, t := range p.publishedTracks() {
		r.eventLocked(TrackUnpublishedEvent{ParticipantSID: p.sid, TrackSID: t.sid}, p, tell)
	}
	r.eventLocked(ParticipantLeftEvent{ParticipantSID: p.sid, Identity: p.identity, Reason: reason}, p, tell)
	p.close(reason)
	r.log.Info("participant left", "participant", p.sid, "identity", p.identity, "reason", reason.String(), "count", len(r.participants))
}

// close removes everyone and stops the room.
func (r *Room) close(reason LeaveReason, why RoomFinishReason) {
	r.ops.Push(func() { r.closeAllLocked(reason, why) })
}

// closeAllLocked removes everyone, telling them reason, and closes the room.
func (r *Room) closeAllLocked(reason LeaveReason, why RoomFinishReason) {
	for len(r.order) > 0 {
		r.removeLocked(r.order[0], reason)
	}
	r.closeLocked(why)
}

// closeLocked finishes the room: its last event, out of the registry (so the name can be
// used again, and its events continue the same journal), and its goroutines stop.
func (r *Room) closeLocked(why RoomFinishReason) {
	if r.closed {
		return
	}
	r.stopEmptyTimerLocked()
	r.sfu.events.append(r.name, r.sid, RoomFinishedEvent{Room: r.infoLocked(), Reason: why})
	r.closed = true
	close(r.stop)
	r.sfu.roomGone(r)
	r.ops.Stop()
	r.log.Info("room finished", "reason", why.String())
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
		for _, p := range r.order {
			p.speaking.Store(slices.ContainsFunc(speakers, func(s Speaker) bool { return s.ParticipantSID == p.sid }))
		}
		r.eventLocked(SpeakersChangedEvent{Speakers: speakers}, nil, true)
	}
}
