package api

import (
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
	"github.com/cascade-sfu/cascade/signaling"
)

// Conversions the signaling edge does not already provide; the shared ones (rooms,
// participants, tracks, participant events) are signaling's.

// permissionFromPB converts a requested permission, refusing sources it does not know.
func permissionFromPB(p *pb.ParticipantPermission) (sfu.Permission, error) {
	out := sfu.Permission{CanSubscribe: p.GetCanSubscribe(), CanPublish: p.GetCanPublish(),
		CanPublishData: p.GetCanPublishData(), Hidden: p.GetHidden()}
	for _, s := range p.GetCanPublishSources() {
		src := signaling.SourceFromPB(s)
		if src == sfu.SourceUnknown {
			return sfu.Permission{}, invalid("permission: can_publish_sources holds %v; name camera, microphone, screen_share or screen_share_audio", s)
		}
		out.Sources = append(out.Sources, src)
	}
	return out, nil
}

func finishReasonToPB(r sfu.RoomFinishReason) pb.RoomFinishReason {
	switch r {
	case sfu.FinishDeleted:
		return pb.RoomFinishReason_ROOM_FINISH_REASON_DELETED
	case sfu.FinishEmpty:
		return pb.RoomFinishReason_ROOM_FINISH_REASON_EMPTY
	case sfu.FinishShutdown:
		return pb.RoomFinishReason_ROOM_FINISH_REASON_SERVER_SHUTDOWN
	}
	return pb.RoomFinishReason_ROOM_FINISH_REASON_UNSPECIFIED
}

// roomEventToPB converts a journal entry. An event of a kind the API has no message for
// still goes out, without a payload, so the watcher's seq numbers stay gapless.
func roomEventToPB(ev sfu.RoomEvent) *pb.RoomEvent {
	out := &pb.RoomEvent{Room: ev.Room, RoomSid: ev.RoomSID, Seq: ev.Seq, AtMs: ev.AtMs}
	switch e := ev.Event.(type) {
	case sfu.RoomCreatedEvent:
		out.Event = &pb.RoomEvent_RoomCreated{RoomCreated: &pb.RoomCreated{Room: signaling.RoomToPB(e.Room)}}
		return out
	case sfu.RoomUpdatedEvent:
		out.Event = &pb.RoomEvent_RoomUpdated{RoomUpdated: &pb.RoomUpdated{Room: signaling.RoomToPB(e.Room)}}
		return out
	case sfu.RoomFinishedEvent:
		out.Event = &pb.RoomEvent_RoomFinished{RoomFinished: &pb.RoomFinished{Room: signaling.RoomToPB(e.Room),
			Reason: finishReasonToPB(e.Reason)}}
		return out
	}
	// Participant, track and speaker events travel to participants too; reuse their
	// messages.
	switch m := signaling.EventToPB(ev.Event).GetMessage().(type) {
	case *pb.SignalResponse_ParticipantJoined:
		out.Event = &pb.RoomEvent_ParticipantJoined{ParticipantJoined: m.ParticipantJoined}
	case *pb.SignalResponse_ParticipantLeft:
		out.Event = &pb.RoomEvent_ParticipantLeft{ParticipantLeft: m.ParticipantLeft}
	case *pb.SignalResponse_ParticipantUpdated:
		out.Event = &pb.RoomEvent_ParticipantUpdated{ParticipantUpdated: m.ParticipantUpdated}
	case *pb.SignalResponse_TrackPublishedEvent:
		out.Event = &pb.RoomEvent_TrackPublished{TrackPublished: m.TrackPublishedEvent}
	case *pb.SignalResponse_TrackUnpublished:
		out.Event = &pb.RoomEvent_TrackUnpublished{TrackUnpublished: m.TrackUnpublished}
	case *pb.SignalResponse_TrackMuted:
		out.Event = &pb.RoomEvent_TrackMuted{TrackMuted: m.TrackMuted}
	case *pb.SignalResponse_SpeakersChanged:
		out.Event = &pb.RoomEvent_SpeakersChanged{SpeakersChanged: m.SpeakersChanged}
	}
	return out
}
