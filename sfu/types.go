package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// TrackKind is audio or video.
type TrackKind uint8

const (
	KindUnknown TrackKind = iota
	KindAudio
	KindVideo
)

// TrackSource says where a track comes from.
type TrackSource uint8

const (
	SourceUnknown TrackSource = iota
	SourceCamera
	SourceMicrophone
	SourceScreenShare
	SourceScreenShareAudio
)

// GrantName is the source's name in a token's canPublishSources.
func (s TrackSource) GrantName() string {
	switch s {
	case SourceCamera:
		return "camera"
	case SourceMicrophone:
		return "microphone"
	case SourceScreenShare:
		return "screen_share"
	case SourceScreenShareAudio:
		return "screen_share_audio"
	}
	return "unknown"
}

// VideoLayer is one simulcast encoding as the publisher describes it.
type VideoLayer struct {
	RID           string
	Width, Height uint32
	Bitrate       uint32
}

// TrackInfo describes a published track.
type TrackInfo struct {
	SID            string
	Kind           TrackKind
	Source         TrackSource
	Name           string
	Muted          bool
	Width, Height  uint32
	Simulcast      bool
	Layers         []VideoLayer
	MimeType       string
	ParticipantSID string
}

// Permission is what a participant may do.
type Permission struct {
	CanSubscribe   bool
	CanPublish     bool
	CanPublishData bool
	// Sources limits publishing to these sources; empty allows every source.
	Sources []TrackSource
	Hidden  bool
}

// SourceAllowed reports whether the permission allows publishing from s.
func (p Permission) SourceAllowed(s TrackSource) bool {
	if !p.CanPublish {
		return false
	}
	if len(p.Sources) == 0 {
		return true
	}
	for _, a := range p.Sources {
		if a == s {
			return true
		}
	}
	return false
}

// ParticipantInfo describes a participant.
type ParticipantInfo struct {
	SID        string
	Identity   string
	Name       string
	Metadata   string
	Tracks     []TrackInfo
	JoinedAtMs int64
	Permission Permission
}

// RoomInfo describes a room.
type RoomInfo struct {
	SID             string
	Name            string
	Metadata        string
	CreatedAtMs     int64
	NumParticipants uint32
	MaxParticipants uint32
	// EmptyTimeout is how long the room stays open with nobody in it; 0 for a room made by
	// a join, which closes when its last participant leaves.
	EmptyTimeout time.Duration
}

// LeaveReason says why a participant left.
type LeaveReason uint8

const (
	LeaveUnknown LeaveReason = iota
	LeaveClientRequest
	LeaveRemoved
	LeaveRoomDeleted
	LeaveDuplicateIdentity
	LeaveTimeout
	LeaveTransportFailed
	LeaveServerShutdown
	LeaveSignalClosed
)

func (r LeaveReason) String() string {
	return [...]string{"unknown", "client request", "removed", "room deleted", "duplicate identity",
		"timeout", "transport failed", "server shutdown", "signal connection closed"}[r]
}

// Target names one of a participant's two connections.
type Target uint8

const (
	TargetPublisher Target = iota
	TargetSubscriber
)

// Speaker is one active speaker.
type Speaker struct {
	ParticipantSID string
	Level          float32
	Active         bool
}

// Event is something that happened in a room, delivered to participants in order.
type Event interface{ isEvent() }

// Room events.
type (
	ParticipantJoinedEvent struct{ Participant ParticipantInfo }
	ParticipantLeftEvent   struct {
		ParticipantSID, Identity string
		Reason                   LeaveReason
	}
	ParticipantUpdatedEvent struct{ Participant ParticipantInfo }
	TrackPublishedEvent     struct {
		ParticipantSID string
		Track          TrackInfo
	}
	TrackUnpublishedEvent struct{ ParticipantSID, TrackSID string }
	TrackMutedEvent       struct {
		ParticipantSID, TrackSID string
		Muted                    bool
	}
	SpeakersChangedEvent struct{ Speakers []Speaker }
)

func (ParticipantJoinedEvent) isEvent()  {}
func (ParticipantLeftEvent) isEvent()    {}
func (ParticipantUpdatedEvent) isEvent() {}
func (TrackPublishedEvent) isEvent()     {}
func (TrackUnpublishedEvent) isEvent()   {}
func (TrackMutedEvent) isEvent()         {}
func (SpeakersChangedEvent) isEvent()    {}

// Sink is a participant's way back to its client (the signaling session). Every method
// must return at once without blocking and without calling back into the SFU; a sink
// that cannot keep up closes its session.
type Sink interface {
	// SendJoin delivers the join response; it comes before any event about the room.
	SendJoin(res *JoinResult)
	SendOffer(sd webrtc.SessionDescription, id uint32)
	SendAnswer(sd webrtc.SessionDescription, id uint32)
	SendCandidate(target Target, c webrtc.ICECandidateInit)
	SendEvent(e Event)
	// Close ends the session, telling the client why.
	Close(reason LeaveReason, message string)
}

// DataMessage is a user data message between participants.
type DataMessage struct {
	Reliable              bool
	Payload               []byte
	Topic                 string
	DestinationIdentities []string
	SenderSID             string
	SenderIdentity        string
}

// DataCodec encodes data messages for data channels; the signaling edge supplies it so the
// SFU needs no wire format of its own.
type DataCodec interface {
	DecodeData(b []byte) (DataMessage, error)
	EncodeData(m DataMessage) ([]byte, error)
}

// JoinParams is a verified request to join a room.
type JoinParams struct {
	Room          string
	Identity      string
	Name          string
	Metadata      string
	Permission    Permission
	AutoSubscribe bool
}

// JoinResult is what a new participant learns.
type JoinResult struct {
	Room        RoomInfo
	Participant ParticipantInfo
	Others      []ParticipantInfo
	ICEServers  []webrtc.ICEServer
}
