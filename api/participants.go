package api

import (
	"context"

	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
	"github.com/cascade-sfu/cascade/signaling"
)

// ListParticipants implements RoomService.
func (s *Server) ListParticipants(ctx context.Context, req *pb.ListParticipantsRequest) (*pb.ListParticipantsResponse, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	infos, err := r.ParticipantInfos()
	if err != nil {
		return nil, toStatus(err)
	}
	out := &pb.ListParticipantsResponse{}
	for _, p := range infos {
		out.Participants = append(out.Participants, signaling.ParticipantToPB(p))
	}
	return out, nil
}

// GetParticipant implements RoomService.
func (s *Server) GetParticipant(ctx context.Context, req *pb.GetParticipantRequest) (*pb.ParticipantInfo, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	p, err := r.FindParticipant(req.GetIdentity())
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.ParticipantToPB(p.Info()), nil
}

// RemoveParticipant implements RoomService.
func (s *Server) RemoveParticipant(ctx context.Context, req *pb.RemoveParticipantRequest) (*pb.ParticipantInfo, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	info, err := r.RemoveParticipant(req.GetIdentity())
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.ParticipantToPB(info), nil
}

// UpdateParticipant implements RoomService.
func (s *Server) UpdateParticipant(ctx context.Context, req *pb.UpdateParticipantRequest) (*pb.ParticipantInfo, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	var u sfu.ParticipantUpdate
	if req.Name != nil {
		u.Name = req.Name
	}
	if req.Metadata != nil {
		u.Metadata = req.Metadata
	}
	if req.GetPermission() != nil {
		perm, err := permissionFromPB(req.GetPermission())
		if err != nil {
			return nil, err
		}
		u.Permission = &perm
	}
	if u.Name == nil && u.Metadata == nil && u.Permission == nil {
		return nil, invalid("nothing to update: set name, metadata or permission")
	}
	info, err := r.UpdateParticipant(req.GetIdentity(), u)
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.ParticipantToPB(info), nil
}

// MutePublishedTrack implements RoomService.
func (s *Server) MutePublishedTrack(ctx context.Context, req *pb.MutePublishedTrackRequest) (*pb.TrackInfo, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	info, err := r.MutePublishedTrack(req.GetIdentity(), req.GetTrackSid(), req.GetMuted())
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.TrackToPB(info), nil
}

// UpdateSubscriptions implements RoomService.
func (s *Server) UpdateSubscriptions(ctx context.Context, req *pb.UpdateSubscriptionsRequest) (*pb.UpdateSubscriptionsResponse, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	subs, err := r.UpdateSubscriptions(req.GetIdentity(), req.GetTrackSids(), req.GetSubscribe())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.UpdateSubscriptionsResponse{SubscribedTrackSids: subs}, nil
}

// SendData implements RoomService.
func (s *Server) SendData(ctx context.Context, req *pb.SendDataRequest) (*pb.SendDataResponse, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	var reliable bool
	switch req.GetKind() {
	case pb.DataKind_DATA_KIND_RELIABLE:
		reliable = true
	case pb.DataKind_DATA_KIND_LOSSY:
	default:
		return nil, invalid("kind %v is neither DATA_KIND_RELIABLE nor DATA_KIND_LOSSY", req.GetKind())
	}
	n, err := r.SendData(sfu.DataMessage{Reliable: reliable, Payload: req.GetPayload(), Topic: req.GetTopic(),
		DestinationIdentities: req.GetDestinationIdentities()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SendDataResponse{Recipients: clampInt32(n)}, nil
}
