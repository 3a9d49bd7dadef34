package sfu

import (
	"fmt"
	"time"
)

// RoomOptions are the settings of a room made by CreateRoom.
type RoomOptions struct {
	Name string
	// MaxParticipants bounds the room (0: the node's Config.MaxParticipants).
	MaxParticipants int
	// EmptyTimeout is how long the room stays open with nobody in it, after it is created
	// and after its last participant leaves (0: Config.EmptyTimeout).
	EmptyTimeout time.Duration
	Metadata     string
}

// Limits on CreateRoom.
const (
	MaxEmptyTimeout = 7 * 24 * time.Hour
	MaxRoomCapacity = 100_000
)

// CreateRoom makes a room before anyone joins it. A room of that name must not exist:
// rooms are also made by the first join, and those close when their last participant
// leaves, while a created room waits its empty timeout.
func (s *SFU) CreateRoom(o RoomOptions) (RoomInfo, error) {
	if err := validateRoomName(o.Name); err != nil {
		return RoomInfo{}, err
	}
	switch {
	case o.MaxParticipants < 0:
		return RoomInfo{}, fmt.Errorf("%w: max participants is %d; use 0 for the node's default, or a positive limit", ErrInvalidArgument, o.MaxParticipants)
	case o.MaxParticipants > MaxRoomCapacity:
		return RoomInfo{}, fmt.Errorf("%w: max participants is %d; the limit is %d", ErrInvalidArgument, o.MaxParticipants, MaxRoomCapacity)
	case o.EmptyTimeout < 0:
		return RoomInfo{}, fmt.Errorf("%w: empty timeout is negative (%v); use 0 for the node's default", ErrInvalidArgument, o.EmptyTimeout)
	case o.EmptyTimeout > MaxEmptyTimeout:
		return RoomInfo{}, fmt.Errorf("%w: empty timeout %v is longer than %v", ErrInvalidArgument, o.EmptyTimeout, MaxEmptyTimeout)
	}
	if err := s.validateMetadata("room metadata", o.Metadata); err != nil {
		return RoomInfo{}, err
	}
	if o.MaxParticipants == 0 {
		o.MaxParticipants = s.cfg.MaxParticipants
	}
	if o.EmptyTimeout == 0 {
		o.EmptyTimeout = s.cfg.EmptyTimeout
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return RoomInfo{}, ErrSFUClosed
	}
	if old := s.rooms[o.Name]; old != nil {
		s.mu.Unlock()
		return RoomInfo{}, fmt.Errorf("%w: room %q (sid %s) is open; update it, or delete it first", ErrRoomExists, o.Name, old.sid)
	}
	r := s.addRoomLocked(roomOptions{name: o.Name, metadata: o.Metadata,
		maxParticipants: o.MaxParticipants, emptyTimeout: o.EmptyTimeout})
	s.mu.Unlock()
	r.log.Info("room created", "max_participants", o.MaxParticipants, "empty_timeout", o.EmptyTimeout)
	return r.Describe()
}

// LookupRoom returns the open room called name.
func (s *SFU) LookupRoom(name string) (*Room, error) {
	if err := validateRoomName(name); err != nil {
		return nil, err
	}
	if r := s.Room(name); r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("%w: no open room %q on this node", ErrRoomNotFound, name)
}

// DeleteRoom disconnects everyone in the room (they are told: room deleted) and closes it.
// It returns the room as it was just before.
func (s *SFU) DeleteRoom(name string) (RoomInfo, error) {
	r, err := s.LookupRoom(name)
	if err != nil {
		return RoomInfo{}, err
	}
	var info RoomInfo
	var deleted bool
	r.ops.Do(func() {
		if r.closed {
			return
		}
		info = r.infoLocked()
		r.closeAllLocked(LeaveRoomDeleted, FinishDeleted)
		deleted = true
	})
	if !deleted {
		return RoomInfo{}, r.goneErr()
	}
	return info, nil
}

// Describe returns the room, or ErrRoomNotFound once it has closed.
func (r *Room) Describe() (RoomInfo, error) {
	var info RoomInfo
	var open bool
	r.ops.Do(func() {
		if !r.closed {
			info, open = r.infoLocked(), true
		}
	})
	if !open {
		return RoomInfo{}, r.goneErr()
	}
	return info, nil
}

// UpdateMetadata replaces the room's metadata. Watchers are told; participants are not (the
// signaling protocol has no message for it).
func (r *Room) UpdateMetadata(md string) (RoomInfo, error) {
	if err := r.sfu.validateMetadata("room metadata", md); err != nil {
		return RoomInfo{}, err
	}
	var info RoomInfo
	var open bool
	r.ops.Do(func() {
		if r.closed {
			return
		}
		r.metadata = md
		info, open = r.infoLocked(), true
		r.eventLocked(RoomUpdatedEvent{Room: info}, nil, false)
	})
	if !open {
		return RoomInfo{}, r.goneErr()
	}
	return info, nil
}

func (r *Room) goneErr() error {
	return fmt.Errorf("%w: room %q closed", ErrRoomNotFound, r.name)
}

// emptiedLocked runs when the last participant has gone: a room made by a join closes at
// once; a created one waits its empty timeout for someone to come.
func (r *Room) emptiedLocked() {
	if r.emptyTimeout == 0 {
		r.closeLocked(FinishEmpty)
		return
	}
	r.startEmptyTimerLocked()
}

func (r *Room) startEmptyTimerLocked() {
	if r.emptyTimeout == 0 || r.closed {
		return
	}
	r.stopEmptyTimerLocked()
	gen := r.emptyGen
	r.emptyTimer = time.AfterFunc(r.emptyTimeout, func() {
		r.ops.Push(func() {
			if r.emptyGen == gen && len(r.participants) == 0 {
				r.log.Info("room empty for its timeout", "timeout", r.emptyTimeout)
				r.closeLocked(FinishEmpty)
			}
		})
	})
}

func (r *Room) stopEmptyTimerLocked() {
	r.emptyGen++
	if r.emptyTimer != nil {
		r.emptyTimer.Stop()
		r.emptyTimer = nil
	}
}
