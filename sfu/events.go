package sfu

// Room lifecycle events. Participants are not told about these (the signaling protocol
// has no message for them); watchers of the room's journal are.
type (
	// RoomCreatedEvent is always a room's first event.
	RoomCreatedEvent struct{ Room RoomInfo }
	// RoomUpdatedEvent reports new room metadata.
	RoomUpdatedEvent struct{ Room RoomInfo }
	// RoomFinishedEvent is always a room's last event.
	RoomFinishedEvent struct {
		Room   RoomInfo
		Reason RoomFinishReason
	}
)

func (RoomCreatedEvent) isEvent()  {}
func (RoomUpdatedEvent) isEvent()  {}
func (RoomFinishedEvent) isEvent() {}

// RoomFinishReason says why a room closed.
type RoomFinishReason uint8

const (
	FinishUnknown RoomFinishReason = iota
	// FinishDeleted: DeleteRoom.
	FinishDeleted
	// FinishEmpty: nobody was left (at once for a room made by a join, after the empty
	// timeout for a room made by CreateRoom).
	FinishEmpty
	// FinishShutdown: the node is shutting down.
	FinishShutdown
)

func (r RoomFinishReason) String() string {
	return [...]string{"unknown", "deleted", "empty", "server shutdown"}[r]
}

// RoomEvent is one entry of a room's journal: an event with its place in the room's order.
type RoomEvent struct {
	Room    string
	RoomSID string // the incarnation of the room the event happened in
	// Seq numbers the room's events 1, 2, 3... without gaps. A room recreated under the
	// same name while its journal is still retained continues the numbering.
	Seq   uint64
	AtMs  int64 // unix milliseconds
	Event Event
}

// Cursor asks a watch to resume a room's events after AfterSeq (0: from the first event
// still retained). RoomSID, when set, is the room sid of that event; it guards against
// resuming into a different room that happens to have the same name.
type Cursor struct {
	Room     string
	RoomSID  string
	AfterSeq uint64
}
