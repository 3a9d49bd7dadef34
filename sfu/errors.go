package sfu

import "errors"

// Sentinel errors. Edges map them to signaling codes or gRPC status codes.
var (
	ErrRoomFull           = errors.New("sfu: room is full")
	ErrPermissionDenied   = errors.New("sfu: permission denied")
	ErrBadSDP             = errors.New("sfu: bad session description")
	ErrNoSupportedCodec   = errors.New("sfu: no supported codec offered")
	ErrTrackNotFound      = errors.New("sfu: track not found")
	ErrParticipantClosed  = errors.New("sfu: participant closed")
	ErrRoomClosed         = errors.New("sfu: room closed")
	ErrNegotiationFailed  = errors.New("sfu: negotiation failed")
	ErrInvalidArgument    = errors.New("sfu: invalid argument")
	ErrSFUClosed          = errors.New("sfu: shutting down")
	ErrUnexpectedAnswer   = errors.New("sfu: answer without a pending offer")
	ErrDuplicateTrackCID  = errors.New("sfu: a track with this cid is already published")
	ErrParticipantMissing = errors.New("sfu: participant not found")
	ErrRoomNotFound       = errors.New("sfu: room not found")
	ErrRoomExists         = errors.New("sfu: room already exists")
	// ErrReplayUnavailable: a watcher asked to resume from events the room's journal no
	// longer holds (past the replay window, or from a room that is gone); it must re-list.
	ErrReplayUnavailable = errors.New("sfu: events to resume from are no longer retained")
	// ErrWatcherTooSlow: a watcher's buffer filled; it was dropped so the room never waits.
	ErrWatcherTooSlow = errors.New("sfu: event watcher fell behind")
)
