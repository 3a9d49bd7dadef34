package sfu

import (
	"fmt"
	"sync"
)

// Watcher receives room events as they happen. Events arrive on Events in each room's
// order; Done is closed when the watcher ends, and Err says why. A watcher that does not
// drain Events fast enough is dropped (ErrWatcherTooSlow) rather than slowing any room;
// the events already buffered stay readable.
type Watcher struct {
	hub  *eventHub
	room string // "" for every room
	ch   chan RoomEvent

	once sync.Once
	done chan struct{}
	err  error // set before done is closed
}

// Events delivers the watched events, in order per room.
func (w *Watcher) Events() <-chan RoomEvent { return w.ch }

// Done is closed when the watcher has ended.
func (w *Watcher) Done() <-chan struct{} { return w.done }

// Err says why the watcher ended (ErrWatcherTooSlow, ErrSFUClosed), or nil after Close or
// while it runs. Read it after Done is closed.
func (w *Watcher) Err() error {
	select {
	case <-w.done:
		return w.err
	default:
		return nil
	}
}

// Close stops the watcher.
func (w *Watcher) Close() { w.end(nil) }

// offer hands ev to the watcher without blocking.
func (w *Watcher) offer(ev RoomEvent) {
	select {
	case <-w.done:
		return
	default:
	}
	select {
	case w.ch <- ev:
	default:
		w.end(fmt.Errorf("%w: more than %d events were waiting for it (the last one delivered is just before room %q seq %d)",
			ErrWatcherTooSlow, cap(w.ch), ev.Room, ev.Seq))
	}
}

func (w *Watcher) end(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.done)
		w.hub.remove(w)
	})
}

// Watch starts watching the events of room ("" for every room on the node). Each cursor
// replays one room's retained events after its sequence number; the replay comes back
// here, and Events carries only what happens after it. A cursor beyond the replay window
// fails with ErrReplayUnavailable: the caller must re-list the room's state instead.
func (s *SFU) Watch(room string, cursors []Cursor) (*Watcher, []RoomEvent, error) {
	if room != "" {
		if err := validateRoomName(room); err != nil {
			return nil, nil, err
		}
	}
	if len(cursors) > maxCursors {
		return nil, nil, fmt.Errorf("%w: at most %d resume cursors", ErrInvalidArgument, maxCursors)
	}
	for _, c := range cursors {
		if err := validateRoomName(c.Room); err != nil {
			return nil, nil, fmt.Errorf("resume cursor: %w", err)
		}
		if room != "" && c.Room != room {
			return nil, nil, fmt.Errorf("%w: resume cursor names room %q but the watch is of room %q", ErrInvalidArgument, c.Room, room)
		}
	}
	for i := range cursors {
		for _, d := range cursors[:i] {
			if d.Room == cursors[i].Room {
				return nil, nil, fmt.Errorf("%w: two resume cursors for room %q", ErrInvalidArgument, d.Room)
			}
		}
	}
	exists := room != "" && s.Room(room) != nil
	return s.events.watch(room, exists, cursors)
}

// maxCursors bounds the cursors of one watch.
const maxCursors = 1024

// Watchers is the number of active event watchers.
func (s *SFU) Watchers() int { return s.events.watcherCount() }
