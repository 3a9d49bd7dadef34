package api

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
	"github.com/cascade-sfu/cascade/signaling"
)

// maxListNames bounds the names filter of ListRooms.
const maxListNames = 1024

// roomName checks a request's room name before authorization, so bad input is
// INVALID_ARGUMENT whatever the token.
func roomName(name string) error {
	if err := sfu.ValidateRoomName(name); err != nil {
		return toStatus(err)
	}
	return nil
}

// CreateRoom implements RoomService.
func (s *Server) CreateRoom(ctx context.Context, req *pb.CreateRoomRequest) (*pb.Room, error) {
	if err := roomName(req.GetName()); err != nil {
		return nil, err
	}
	if err := allow(ctx, rightCreate, req.GetName()); err != nil {
		return nil, err
	}
	secs := req.GetEmptyTimeoutSeconds()
	if max := sfu.MaxEmptyTimeout / time.Second; int64(secs) > int64(max) {
		return nil, invalid("empty_timeout_seconds is %d; the limit is %d (%v)", secs, int64(max), sfu.MaxEmptyTimeout)
	}
	info, err := s.sfu.CreateRoom(sfu.RoomOptions{Name: req.GetName(), MaxParticipants: int(req.GetMaxParticipants()),
		EmptyTimeout: time.Duration(secs) * time.Second, Metadata: req.GetMetadata()})
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.RoomToPB(info), nil
}

// ListRooms implements RoomService.
func (s *Server) ListRooms(ctx context.Context, req *pb.ListRoomsRequest) (*pb.ListRoomsResponse, error) {
	names := req.GetNames()
	if len(names) > maxListNames {
		return nil, invalid("%d names; at most %d", len(names), maxListNames)
	}
	for _, n := range names {
		if err := roomName(n); err != nil {
			return nil, err
		}
	}
	if sc := scope(ctx); sc != "" {
		// A token for one room lists that room, and may not ask about others.
		for _, n := range names {
			if err := allow(ctx, rightList, n); err != nil {
				return nil, err
			}
		}
		if len(names) == 0 {
			names = []string{sc}
		}
	}
	if err := allow(ctx, rightList, scope(ctx)); err != nil {
		return nil, err
	}
	var rooms []*sfu.Room
	if len(names) == 0 {
		rooms = s.sfu.Rooms()
	} else {
		for _, n := range names {
			if r := s.sfu.Room(n); r != nil {
				rooms = append(rooms, r)
			}
		}
	}
	out := &pb.ListRoomsResponse{}
	for _, r := range rooms {
		if info, err := r.Describe(); err == nil { // a room closing meanwhile is left out
			out.Rooms = append(out.Rooms, signaling.RoomToPB(info))
		}
	}
	slices.SortFunc(out.Rooms, func(a, b *pb.Room) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, nil
}

// GetRoom implements RoomService.
func (s *Server) GetRoom(ctx context.Context, req *pb.GetRoomRequest) (*pb.Room, error) {
	r, err := s.room(ctx, rightList, req.GetRoom())
	if err != nil {
		return nil, err
	}
	info, err := r.Describe()
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.RoomToPB(info), nil
}

// DeleteRoom implements RoomService.
func (s *Server) DeleteRoom(ctx context.Context, req *pb.DeleteRoomRequest) (*pb.Room, error) {
	if err := roomName(req.GetRoom()); err != nil {
		return nil, err
	}
	if err := allow(ctx, rightDelete, req.GetRoom()); err != nil {
		return nil, err
	}
	info, err := s.sfu.DeleteRoom(req.GetRoom())
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.RoomToPB(info), nil
}

// UpdateRoomMetadata implements RoomService.
func (s *Server) UpdateRoomMetadata(ctx context.Context, req *pb.UpdateRoomMetadataRequest) (*pb.Room, error) {
	r, err := s.room(ctx, rightAdmin, req.GetRoom())
	if err != nil {
		return nil, err
	}
	info, err := r.UpdateMetadata(req.GetMetadata())
	if err != nil {
		return nil, toStatus(err)
	}
	return signaling.RoomToPB(info), nil
}

// room checks the name, then the token, then finds the room: bad input is
// INVALID_ARGUMENT, a token without the right PERMISSION_DENIED (without revealing
// whether the room exists), and only then a missing room NOT_FOUND.
func (s *Server) room(ctx context.Context, r right, name string) (*sfu.Room, error) {
	if err := roomName(name); err != nil {
		return nil, err
	}
	if err := allow(ctx, r, name); err != nil {
		return nil, err
	}
	room, err := s.sfu.LookupRoom(name)
	if err != nil {
		return nil, toStatus(err)
	}
	return room, nil
}

// clampInt32 keeps a count in range for a proto field.
func clampInt32(n int) uint32 { return uint32(min(n, math.MaxInt32)) }
