package api

import (
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
)

// WatchEvents implements RoomService. Response headers are sent as soon as the watch is in
// place, so a client that waits for them (ClientStream.Header) sees every event caused by
// what it does afterwards. The SFU never waits for this stream: events reach
// it through the watcher's bounded buffer, and a watcher whose buffer fills is dropped.
// The stream then sends what was buffered and ends with RESOURCE_EXHAUSTED. (A client
// that never reads at all holds only this goroutine, blocked in Send by flow control,
// until it goes away or the server stops.)
func (s *Server) WatchEvents(req *pb.WatchEventsRequest, stream grpc.ServerStreamingServer[pb.RoomEvent]) error {
	ctx := stream.Context()
	room := req.GetRoom()
	if room != "" {
		if err := roomName(room); err != nil {
			return err
		}
	}
	var cursors []sfu.Cursor
	if req.GetAfterSeq() != 0 || req.GetRoomSid() != "" {
		if room == "" {
			return invalid("after_seq and room_sid resume one room: set room too, or resume an all-rooms watch with resume cursors")
		}
		cursors = append(cursors, sfu.Cursor{Room: room, RoomSID: req.GetRoomSid(), AfterSeq: req.GetAfterSeq()})
	}
	for _, c := range req.GetResume() {
		cursors = append(cursors, sfu.Cursor{Room: c.GetRoom(), RoomSID: c.GetRoomSid(), AfterSeq: c.GetAfterSeq()})
	}
	if err := allow(ctx, rightAdmin, room); err != nil {
		return err
	}
	w, replay, err := s.sfu.Watch(room, cursors)
	if err != nil {
		return toStatus(err)
	}
	defer w.Close()
	// Headers go out once the watch is in place: a client that waits for them knows that
	// whatever it does next will be seen.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	var last *pb.RoomEvent
	send := func(ev sfu.RoomEvent) error {
		last = roomEventToPB(ev)
		return stream.Send(last)
	}
	for _, ev := range replay {
		if err := send(ev); err != nil {
			return err
		}
	}
	for {
		select {
		case ev := <-w.Events():
			if err := send(ev); err != nil {
				return err
			}
		case <-w.Done():
			// Deliver what was buffered before the watcher ended, so the client can resume
			// right after it.
			for {
				select {
				case ev := <-w.Events():
					if err := send(ev); err != nil {
						return err
					}
					continue
				default:
				}
				break
			}
			return toStatus(w.Err())
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.stopping:
			msg := "the server is shutting down; reconnect"
			if last != nil {
				msg += " and resume room " + last.GetRoom() + " after its seq " + strconv.FormatUint(last.GetSeq(), 10)
			}
			return status.Error(codes.Unavailable, msg)
		}
	}
}
