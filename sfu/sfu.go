// Package sfu holds rooms and participants: who is in which room, their two
// PeerConnections and negotiation, which tracks they publish and receive, and the room
// events they are told about. Media forwarding itself is the router's.
package sfu

import (
	"github.com/cascade-sfu/cascade/router"

	"crypto/rand"
	"log/slog"
	"sync"
	"time"

	"github.com/cascade-sfu/cascade/transport"
)

// SFU is one node's set of rooms.
type SFU struct {
	cfg  Config
	tr   *transport.Transport
	data DataCodec
	log  *slog.Logger
	// events is every room's journal of events, for watchers (the gRPC edge).
	events *eventHub
	// latency counts how long forwarded packets spend in the router, over every receiver.
	latency router.LatencyHistogram

	mu     sync.Mutex // guards rooms and closed
	rooms  map[string]*Room
	closed bool
	wg     sync.WaitGroup // room goroutines
}

// ForwardingLatency is how long forwarded packets have spent inside the router since the
// SFU started (see router.LatencyHistogram).
func (s *SFU) ForwardingLatency() router.LatencySnapshot { return s.latency.Snapshot() }

// New creates an SFU on a transport. data encodes data-channel messages.
func New(cfg Config, tr *transport.Transport, data DataCodec, log *slog.Logger) (*SFU, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SFU{cfg: cfg, tr: tr, data: data, log: log, rooms: map[string]*Room{},
		events: newEventHub(cfg.EventWindow, cfg.WatchBuffer, cfg.EventRetention)}, nil
}

// Join adds a participant to a room, creating the room if needed. The participant
// reaches its client through sink, which gets the join response first.
func (s *SFU) Join(p JoinParams, sink Sink) (*Participant, error) {
	if err := validateRoomName(p.Room); err != nil {
		return nil, err
	}
	if err := validateID("identity", p.Identity); err != nil {
		return nil, err
	}
	if err := validateText("name", p.Name, maxNameLen); err != nil {
		return nil, err
	}
	if err := s.validateMetadata("participant metadata", p.Metadata); err != nil {
		return nil, err
	}
	for {
		r, err := s.roomFor(p.Room)
		if err != nil {
			return nil, err
		}
		part, err := r.join(p, sink)
		if err == ErrRoomClosed {
			continue // the room emptied and closed under us; make a new one
		}
		return part, err
	}
}

func (s *SFU) roomFor(name string) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrSFUClosed
	}
	r := s.rooms[name]
	if r == nil {
		r = s.addRoomLocked(roomOptions{name: name, maxParticipants: s.cfg.MaxParticipants})
	}
	return r, nil
}

// addRoomLocked creates a room and registers it; s.mu must be held.
func (s *SFU) addRoomLocked(o roomOptions) *Room {
	r := newRoom(s, o)
	s.rooms[o.name] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-r.ops.Done()
	}()
	return r
}

// roomGone drops r from the registry as it closes.
func (s *SFU) roomGone(r *Room) {
	s.mu.Lock()
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
	}
	s.mu.Unlock()
}

// Room returns a room by name, or nil.
func (s *SFU) Room(name string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[name]
}

// Rooms returns every room.
func (s *SFU) Rooms() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

// Close removes every participant and stops every room.
func (s *SFU) Close() {
	s.mu.Lock()
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.close(LeaveServerShutdown, FinishShutdown)
	}
	s.wg.Wait()
	s.events.close()
}

// newID makes a prefixed random id such as "PA_3k9x2m4q8z7w".
func newID(prefix string) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

func nowMs() int64 { return time.Now().UnixMilli() }
