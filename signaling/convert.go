package signaling

import (
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/bwe"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
)

// Conversions between the SFU's Go types and the wire messages.

func kindToPB(k sfu.TrackKind) pb.TrackKind {
	switch k {
	case sfu.KindAudio:
		return pb.TrackKind_TRACK_KIND_AUDIO
	case sfu.KindVideo:
		return pb.TrackKind_TRACK_KIND_VIDEO
	}
	return pb.TrackKind_TRACK_KIND_UNSPECIFIED
}

func kindFromPB(k pb.TrackKind) sfu.TrackKind {
	switch k {
	case pb.TrackKind_TRACK_KIND_AUDIO:
		return sfu.KindAudio
	case pb.TrackKind_TRACK_KIND_VIDEO:
		return sfu.KindVideo
	}
	return sfu.KindUnknown
}

var sourceMap = map[pb.TrackSource]sfu.TrackSource{
	pb.TrackSource_TRACK_SOURCE_UNSPECIFIED:        sfu.SourceUnknown,
	pb.TrackSource_TRACK_SOURCE_CAMERA:             sfu.SourceCamera,
	pb.TrackSource_TRACK_SOURCE_MICROPHONE:         sfu.SourceMicrophone,
	pb.TrackSource_TRACK_SOURCE_SCREEN_SHARE:       sfu.SourceScreenShare,
	pb.TrackSource_TRACK_SOURCE_SCREEN_SHARE_AUDIO: sfu.SourceScreenShareAudio,
}

// SourceFromPB maps a wire track source to the SFU's.
func SourceFromPB(s pb.TrackSource) sfu.TrackSource { return sourceMap[s] }

// SourceToPB maps an SFU track source to the wire's.
func SourceToPB(s sfu.TrackSource) pb.TrackSource {
	for k, v := range sourceMap {
		if v == s {
			return k
		}
	}
	return pb.TrackSource_TRACK_SOURCE_UNSPECIFIED
}

// TrackToPB converts a track description.
func TrackToPB(t sfu.TrackInfo) *pb.TrackInfo {
	out := &pb.TrackInfo{Sid: t.SID, Kind: kindToPB(t.Kind), Source: SourceToPB(t.Source), Name: t.Name,
		Muted: t.Muted, Width: t.Width, Height: t.Height, Simulcast: t.Simulcast, MimeType: t.MimeType,
		ParticipantSid: t.ParticipantSID}
	for _, l := range t.Layers {
		out.Layers = append(out.Layers, &pb.VideoLayer{Rid: l.RID, Width: l.Width, Height: l.Height, Bitrate: l.Bitrate})
	}
	return out
}

// PermissionToPB converts a permission.
func PermissionToPB(p sfu.Permission) *pb.ParticipantPermission {
	out := &pb.ParticipantPermission{CanSubscribe: p.CanSubscribe, CanPublish: p.CanPublish,
		CanPublishData: p.CanPublishData, Hidden: p.Hidden}
	for _, s := range p.Sources {
		out.CanPublishSources = append(out.CanPublishSources, SourceToPB(s))
	}
	return out
}

// ParticipantToPB converts a participant description.
func ParticipantToPB(p sfu.ParticipantInfo) *pb.ParticipantInfo {
	out := &pb.ParticipantInfo{Sid: p.SID, Identity: p.Identity, Name: p.Name, Metadata: p.Metadata,
		JoinedAtMs: p.JoinedAtMs, Permission: PermissionToPB(p.Permission)}
	for _, t := range p.Tracks {
		out.Tracks = append(out.Tracks, TrackToPB(t))
	}
	return out
}

// RoomToPB converts a room description.
func RoomToPB(r sfu.RoomInfo) *pb.Room {
	return &pb.Room{Sid: r.SID, Name: r.Name, Metadata: r.Metadata, CreatedAtMs: r.CreatedAtMs,
		NumParticipants: r.NumParticipants, MaxParticipants: r.MaxParticipants}
}

// LeaveReasonToPB converts a leave reason.
func LeaveReasonToPB(r sfu.LeaveReason) pb.LeaveReason {
	switch r {
	case sfu.LeaveClientRequest, sfu.LeaveSignalClosed:
		return pb.LeaveReason_LEAVE_REASON_CLIENT_REQUEST
	case sfu.LeaveRemoved:
		return pb.LeaveReason_LEAVE_REASON_REMOVED
	case sfu.LeaveRoomDeleted:
		return pb.LeaveReason_LEAVE_REASON_ROOM_DELETED
	case sfu.LeaveDuplicateIdentity:
		return pb.LeaveReason_LEAVE_REASON_DUPLICATE_IDENTITY
	case sfu.LeaveTimeout:
		return pb.LeaveReason_LEAVE_REASON_TIMEOUT
	case sfu.LeaveTransportFailed:
		return pb.LeaveReason_LEAVE_REASON_TRANSPORT_FAILED
	case sfu.LeaveServerShutdown:
		return pb.LeaveReason_LEAVE_REASON_SERVER_SHUTDOWN
	}
	return pb.LeaveReason_LEAVE_REASON_UNSPECIFIED
}

// EventToPB converts a room event to the message a client receives.
func EventToPB(e sfu.Event) *pb.SignalResponse {
	switch e := e.(type) {
	case sfu.ParticipantJoinedEvent:
		return &pb.SignalResponse{Message: &pb.SignalResponse_ParticipantJoined{ParticipantJoined: &pb.ParticipantJoined{Participant: ParticipantToPB(e.Participant)}}}
	case sfu.ParticipantLeftEvent:
		return &pb.SignalResponse{Message: &pb.SignalResponse_ParticipantLeft{ParticipantLeft: &pb.ParticipantLeft{ParticipantSid: e.ParticipantSID, Identity: e.Identity, Reason: LeaveReasonToPB(e.Reason)}}}
	case sfu.ParticipantUpdatedEvent:
		return &pb.SignalResponse{Message: &pb.SignalResponse_ParticipantUpdated{ParticipantUpdated: &pb.ParticipantUpdated{Participant: ParticipantToPB(e.Participant)}}}
	case sfu.TrackPublishedEvent:
		return &pb.SignalResponse{Message: &pb.SignalResponse_TrackPublishedEvent{TrackPublishedEvent: &pb.TrackPublished{ParticipantSid: e.ParticipantSID, Track: TrackToPB(e.Track)}}}
	case sfu.TrackUnpublishedEvent:
		return &pb.SignalResponse{Message: &pb.SignalResponse_TrackUnpublished{TrackUnpublished: &pb.TrackUnpublished{ParticipantSid: e.ParticipantSID, TrackSid: e.TrackSID}}}
	case sfu.TrackMutedEvent:
		return &pb.SignalResponse{Message: &pb.SignalResponse_TrackMuted{TrackMuted: &pb.TrackMuted{ParticipantSid: e.ParticipantSID, TrackSid: e.TrackSID, Muted: e.Muted}}}
	case sfu.SpeakersChangedEvent:
		sc := &pb.SpeakersChanged{}
		for _, s := range e.Speakers {
			sc.Speakers = append(sc.Speakers, &pb.SpeakerInfo{ParticipantSid: s.ParticipantSID, Level: s.Level, Active: s.Active})
		}
		return &pb.SignalResponse{Message: &pb.SignalResponse_SpeakersChanged{SpeakersChanged: sc}}
	}
	return nil
}

func sdpToPB(sd webrtc.SessionDescription, id uint32) *pb.SessionDescription {
	return &pb.SessionDescription{Type: sd.Type.String(), Sdp: sd.SDP, Id: id}
}

func candidateToPB(c webrtc.ICECandidateInit) *pb.IceCandidate {
	out := &pb.IceCandidate{Candidate: c.Candidate}
	if c.SDPMid != nil {
		out.SdpMid = *c.SDPMid
	}
	if c.SDPMLineIndex != nil {
		out.SdpMlineIndex = uint32(*c.SDPMLineIndex)
	}
	if c.UsernameFragment != nil {
		out.UsernameFragment = *c.UsernameFragment
	}
	return out
}

func candidateFromPB(c *pb.IceCandidate) webrtc.ICECandidateInit {
	out := webrtc.ICECandidateInit{Candidate: c.GetCandidate()}
	if c.GetSdpMid() != "" {
		mid := c.GetSdpMid()
		out.SDPMid = &mid
	}
	idx := uint16(c.GetSdpMlineIndex())
	out.SDPMLineIndex = &idx
	if c.GetUsernameFragment() != "" {
		u := c.GetUsernameFragment()
		out.UsernameFragment = &u
	}
	return out
}

func iceServersToPB(servers []webrtc.ICEServer) []*pb.IceServer {
	var out []*pb.IceServer
	for _, s := range servers {
		is := &pb.IceServer{Urls: s.URLs, Username: s.Username}
		if c, ok := s.Credential.(string); ok {
			is.Credential = c
		}
		out = append(out, is)
	}
	return out
}

// StreamStateToPB converts a subscriber's stream state.
func StreamStateToPB(u sfu.StreamStateUpdate) *pb.StreamStateUpdate {
	out := &pb.StreamStateUpdate{EstimateBps: uint64(max(u.EstimateBps, 0))}
	for _, st := range u.Streams {
		state := pb.StreamState_STREAM_STATE_ACTIVE
		switch st.State {
		case bwe.StatePausedBandwidth:
			state = pb.StreamState_STREAM_STATE_PAUSED_BANDWIDTH
		case bwe.StatePausedPreference:
			state = pb.StreamState_STREAM_STATE_PAUSED_PREFERENCE
		}
		out.Streams = append(out.Streams, &pb.StreamStateInfo{ParticipantSid: st.ParticipantSID, TrackSid: st.TrackSID,
			State: state, CurrentRid: st.CurrentRID, TargetRid: st.TargetRID, Reason: string(st.Reason)})
	}
	return out
}
