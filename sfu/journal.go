package sfu

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// eventHub keeps every room's recent events in order, numbered, and hands them to
// watchers. A room appends from its operations goroutine only, so one room's events are
// appended and delivered in the order they happened. Appending never blocks: a watcher
// whose buffer is full is dropped and told why (ErrWatcherTooSlow).
type eventHub struct {
	window    int           // events kept per room for resuming
	retention time.Duration // how long a finished room's journal is kept
	buffer    int           // events buffered per watcher
	now       func() time.Time

	mu        sync.Mutex // guards journals, watchers, closed, lastSweep
	journals  map[string]*journal
	watchers  []*Watcher // copy-on-write: replaced, never changed in place
	closed    bool
	lastSweep time.Time
}

// maxJournalSIDs bounds the room incarnations a journal remembers for cursor checks.
const maxJournalSIDs = 16

// journal is one room name's numbered events: a ring of the newest window events.
type journal struct {
	sids       []string // room incarnations seen, oldest first
	ring       []RoomEvent
	head, n    int // index of the oldest event; events held
	lastSeq    uint64
	finishedAt time.Time // zero while a room of this name exists
}

func newEventHub(window, buffer int, retention time.Duration) *eventHub {
	return &eventHub{window: window, buffer: buffer, retention: retention, now: time.Now,
		journals: map[string]*journal{}}
}

func (j *journal) push(ev RoomEvent, window int) {
	if j.ring == nil {
		j.ring = make([]RoomEvent, window)
	}
	if j.n < len(j.ring) {
		j.ring[(j.head+j.n)%len(j.ring)] = ev
		j.n++
		return
	}
	j.ring[j.head] = ev
	j.head = (j.head + 1) % len(j.ring)
}

// oldest is the sequence number of the oldest event held (lastSeq+1 when none is).
func (j *journal) oldest() uint64 { return j.lastSeq - uint64(j.n) + 1 }

// after returns the events held with a sequence number above seq.
func (j *journal) after(seq uint64) []RoomEvent {
	var out []RoomEvent
	for i := range j.n {
		ev := j.ring[(j.head+i)%len(j.ring)]
		if ev.Seq > seq {
			out = append(out, ev)
		}
	}
	return out
}

func (j *journal) knows(sid string) bool { return slices.Contains(j.sids, sid) }

// append numbers e as the next event of room (incarnation sid), keeps it and offers it to
// every watcher that wants it. It returns once every watcher has it or has been dropped.
func (h *eventHub) append(room, sid string, e Event) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	now := h.now()
	j := h.journals[room]
	if j == nil {
		j = &journal{}
		h.journals[room] = j
	}
	switch e.(type) {
	case RoomCreatedEvent:
		j.finishedAt = time.Time{}
		if !j.knows(sid) {
			j.sids = append(j.sids, sid)
			if len(j.sids) > maxJournalSIDs {
				j.sids = j.sids[1:]
			}
		}
	case RoomFinishedEvent:
		j.finishedAt = now
	}
	j.lastSeq++
	ev := RoomEvent{Room: room, RoomSID: sid, Seq: j.lastSeq, AtMs: now.UnixMilli(), Event: e}
	j.push(ev, h.window)
	h.sweepLocked(now)
	watchers := h.watchers
	h.mu.Unlock()
	for _, w := range watchers {
		if w.room == "" || w.room == room {
			w.offer(ev)
		}
	}
}

// sweepLocked forgets journals of rooms finished longer than the retention ago. It runs at
// most a few times per retention period, so appends stay cheap.
func (h *eventHub) sweepLocked(now time.Time) {
	if now.Sub(h.lastSweep) < h.retention/4 {
		return
	}
	h.lastSweep = now
	for name, j := range h.journals {
		if !j.finishedAt.IsZero() && now.Sub(j.finishedAt) > h.retention {
			delete(h.journals, name)
		}
	}
}

// watch registers a watcher of room ("" for every room) and returns the events the cursors
// ask to replay. Registration and replay happen under one lock, so the replay and the live
// events that follow neither overlap nor leave a gap. roomExists tells whether a room of
// that name exists on the node (its journal may not have its first event yet).
func (h *eventHub) watch(room string, roomExists bool, cursors []Cursor) (*Watcher, []RoomEvent, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, ErrSFUClosed
	}
	h.sweepLocked(h.now())
	if room != "" && h.journals[room] == nil && !roomExists {
		return nil, nil, fmt.Errorf("%w: no room %q on this node, and no recent events of one", ErrRoomNotFound, room)
	}
	var replay []RoomEvent
	for _, c := range cursors {
		j := h.journals[c.Room]
		switch {
		case j == nil:
			return nil, nil, fmt.Errorf("%w: room %q has no retained events (it finished, or never existed here)", ErrReplayUnavailable, c.Room)
		case c.RoomSID != "" && !j.knows(c.RoomSID):
			return nil, nil, fmt.Errorf("%w: room %q has no retained events of room sid %s (the room was recreated since)", ErrReplayUnavailable, c.Room, c.RoomSID)
		case c.AfterSeq > j.lastSeq:
			return nil, nil, fmt.Errorf("%w: room %q: after_seq %d is ahead of its newest event %d (was the room recreated after its events expired?)", ErrReplayUnavailable, c.Room, c.AfterSeq, j.lastSeq)
		case c.AfterSeq+1 < j.oldest():
			return nil, nil, fmt.Errorf("%w: room %q: events after %d are gone; the oldest retained is %d (the replay window is %d events)", ErrReplayUnavailable, c.Room, c.AfterSeq, j.oldest(), h.window)
		}
		replay = append(replay, j.after(c.AfterSeq)...)
	}
	w := &Watcher{hub: h, room: room, ch: make(chan RoomEvent, h.buffer), done: make(chan struct{})}
	h.watchers = append(slices.Clip(h.watchers), w)
	return w, replay, nil
}

// remove unregisters w.
func (h *eventHub) remove(w *Watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.Index(h.watchers, w)
	if i < 0 {
		return
	}
	next := make([]*Watcher, 0, len(h.watchers)-1)
	next = append(next, h.watchers[:i]...)
	h.watchers = append(next, h.watchers[i+1:]...)
}

// close ends every watcher with ErrSFUClosed and refuses new ones.
func (h *eventHub) close() {
	h.mu.Lock()
	h.closed = true
	watchers := h.watchers
	h.watchers = nil
	h.mu.Unlock()
	for _, w := range watchers {
		w.end(ErrSFUClosed)
	}
}

// watcherCount is the number of registered watchers.
func (h *eventHub) watcherCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}
