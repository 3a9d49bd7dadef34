package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cascade-sfu/cascade/node"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// watch opens an event stream and returns a channel of its events; the channel closes
// when the stream ends, and *end then holds its error.
func watch(t *testing.T, c pb.RoomServiceClient, req *pb.WatchEventsRequest) (events <-chan *pb.RoomEvent, end *error, cancel func()) {
	t.Helper()
	wctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := c.WatchEvents(wctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The headers arrive once the watch is in place: from then on nothing is missed.
	if _, err := s.Header(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *pb.RoomEvent, 4096)
	var serr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		for {
			ev, err := s.Recv()
			if err != nil {
				serr = err
				return
			}
			ch <- ev
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch, &serr, cancel
}

// next returns the next event, failing after a deadline or when the stream ends.
func next(t *testing.T, ch <-chan *pb.RoomEvent) *pb.RoomEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15 s")
	}
	return nil
}

// kind names an event's payload, e.g. "participant_joined".
func kind(ev *pb.RoomEvent) string {
	if f := ev.ProtoReflect().WhichOneof(ev.ProtoReflect().Descriptor().Oneofs().ByName("event")); f != nil {
		return string(f.Name())
	}
	return ""
}

// until collects events (skipping speaker changes) until one of kind want arrives.
func until(t *testing.T, ch <-chan *pb.RoomEvent, want string, seen *[]*pb.RoomEvent) *pb.RoomEvent {
	t.Helper()
	for {
		ev := next(t, ch)
		*seen = append(*seen, ev)
		if kind(ev) == want {
			return ev
		}
	}
}

// gapless checks that events count up by one.
func gapless(t *testing.T, evs []*pb.RoomEvent) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if evs[i].GetSeq() != evs[i-1].GetSeq()+1 {
			t.Fatalf("seq %d follows %d", evs[i].GetSeq(), evs[i-1].GetSeq())
		}
	}
}

func kinds(evs []*pb.RoomEvent) string {
	var out []string
	for _, ev := range evs {
		if k := kind(ev); k != "speakers_changed" {
			out = append(out, k)
		}
	}
	return strings.Join(out, " ")
}

func TestWatchEventsInOrderAndResume(t *testing.T) {
	h := start(t, nil)
	if _, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "w"}); err != nil {
		t.Fatal(err)
	}
	events, _, cancel := watch(t, h.api, &pb.WatchEventsRequest{Room: "w", AfterSeq: 0, RoomSid: ""})
	// A cursor at 0 with no sid means "from now": only what follows arrives.
	alice := h.join("w", "alice", nil)
	bob := h.join("w", "bob", nil)
	src := alice.publishAV()
	eventually(t, "alice's tracks published", 20*time.Second, func() bool {
		p, err := h.api.GetParticipant(ctx(t), &pb.GetParticipantRequest{Room: "w", Identity: "alice"})
		return err == nil && len(p.GetTracks()) == 2
	})
	if _, err := h.api.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "w", Metadata: "m1"}); err != nil {
		t.Fatal(err)
	}
	var seen []*pb.RoomEvent
	until(t, events, "room_updated", &seen)
	if _, err := h.api.MutePublishedTrack(ctx(t), &pb.MutePublishedTrackRequest{Room: "w", Identity: "alice", TrackSid: src.at.SID(), Muted: true}); err != nil {
		t.Fatal(err)
	}
	until(t, events, "track_muted", &seen)
	if _, err := h.api.RemoveParticipant(ctx(t), &pb.RemoveParticipantRequest{Room: "w", Identity: "bob"}); err != nil {
		t.Fatal(err)
	}
	left := until(t, events, "participant_left", &seen)
	gapless(t, seen)
	if seen[0].GetSeq() != 2 {
		t.Fatalf("first event seen is seq %d; the room's creation was seq 1, so want 2", seen[0].GetSeq())
	}
	want := "participant_joined participant_joined track_published track_published room_updated track_muted participant_left"
	if got := kinds(seen); got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
	if left.GetParticipantLeft().GetIdentity() != "bob" || left.GetParticipantLeft().GetReason() != pb.LeaveReason_LEAVE_REASON_REMOVED {
		t.Fatalf("left = %v", left)
	}
	for _, ev := range seen {
		if ev.GetRoom() != "w" || ev.GetRoomSid() == "" || ev.GetAtMs() == 0 {
			t.Fatalf("event without room, sid or time: %v", ev)
		}
	}
	cancel()
	_ = bob

	// While nobody watches, more happens; a watcher resuming after what it saw gets exactly
	// the rest, then what follows live.
	last := seen[len(seen)-1]
	for i := range 3 {
		if _, err := h.api.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "w", Metadata: fmt.Sprint("gap", i)}); err != nil {
			t.Fatal(err)
		}
	}
	resumed, _, _ := watch(t, h.api, &pb.WatchEventsRequest{Room: "w", AfterSeq: last.GetSeq(), RoomSid: last.GetRoomSid()})
	var after []*pb.RoomEvent
	for len(after) < 3 || after[len(after)-1].GetRoomUpdated().GetRoom().GetMetadata() != "gap2" {
		after = append(after, next(t, resumed))
	}
	if after[0].GetSeq() != last.GetSeq()+1 {
		t.Fatalf("resumed at seq %d after %d", after[0].GetSeq(), last.GetSeq())
	}
	if _, err := h.api.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "w", Metadata: "live"}); err != nil {
		t.Fatal(err)
	}
	for after[len(after)-1].GetRoomUpdated().GetRoom().GetMetadata() != "live" {
		after = append(after, next(t, resumed))
	}
	gapless(t, after)

	// The room is deleted and made again under its name: the numbering goes on, with a new
	// room sid, so a watcher sees the end of one and the start of the other in order.
	if _, err := h.api.DeleteRoom(ctx(t), &pb.DeleteRoomRequest{Room: "w"}); err != nil {
		t.Fatal(err)
	}
	r2, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	var tail []*pb.RoomEvent
	until(t, resumed, "room_created", &tail)
	after = append(after, tail...)
	gapless(t, after)
	fin := tail[len(tail)-2]
	if kind(fin) != "room_finished" || fin.GetRoomFinished().GetReason() != pb.RoomFinishReason_ROOM_FINISH_REASON_DELETED {
		t.Fatalf("before the new room: %v", fin)
	}
	if created := tail[len(tail)-1]; created.GetRoomSid() != r2.GetSid() || created.GetRoomSid() == last.GetRoomSid() {
		t.Fatalf("room_created of %s, want the new room %s", created.GetRoomSid(), r2.GetSid())
	}
}

func TestWatchResumeOutsideTheWindow(t *testing.T) {
	h := start(t, func(c *node.Config) { c.SFU.EventWindow = 8 })
	r, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "busy"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := h.api.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "busy", Metadata: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(req *pb.WatchEventsRequest) error {
		s, err := h.api.WatchEvents(ctx(t), req)
		if err != nil {
			return err
		}
		_, err = s.Recv()
		return err
	}
	// Seq 21 is the newest; the window holds 14..21.
	wantCode(t, recv(&pb.WatchEventsRequest{Room: "busy", AfterSeq: 3}), codes.OutOfRange, "oldest retained is 14", "re-list")
	wantCode(t, recv(&pb.WatchEventsRequest{Room: "busy", AfterSeq: 99}), codes.OutOfRange, "ahead")
	wantCode(t, recv(&pb.WatchEventsRequest{Room: "busy", AfterSeq: 15, RoomSid: "RM_other"}), codes.OutOfRange, "RM_other")
	wantCode(t, recv(&pb.WatchEventsRequest{AfterSeq: 15}), codes.InvalidArgument, "set room")
	wantCode(t, recv(&pb.WatchEventsRequest{Room: "nope"}), codes.NotFound, `"nope"`)
	wantCode(t, recv(&pb.WatchEventsRequest{Room: "busy", Resume: []*pb.EventCursor{{Room: "other"}}}), codes.InvalidArgument, "other")
	// Within the window it works.
	s, err := h.api.WatchEvents(ctx(t), &pb.WatchEventsRequest{Room: "busy", AfterSeq: 13, RoomSid: r.GetSid()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Recv()
	if err != nil || ev.GetSeq() != 14 {
		t.Fatalf("first resumed event %v, %v; want seq 14", ev, err)
	}
}

func TestWatchAllRooms(t *testing.T) {
	h := start(t, nil)
	events, _, cancel := watch(t, h.api, &pb.WatchEventsRequest{})
	for _, name := range []string{"one", "two"} {
		if _, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	h.join("one", "x", nil)
	seen := map[string][]*pb.RoomEvent{}
	for len(seen["one"]) < 2 || len(seen["two"]) < 1 {
		ev := next(t, events)
		seen[ev.GetRoom()] = append(seen[ev.GetRoom()], ev)
	}
	if kinds(seen["one"]) != "room_created participant_joined" || kinds(seen["two"]) != "room_created" {
		t.Fatalf("one: %s; two: %s", kinds(seen["one"]), kinds(seen["two"]))
	}
	if seen["one"][0].GetSeq() != 1 || seen["two"][0].GetSeq() != 1 {
		t.Fatal("each room numbers its own events from 1")
	}
	cancel()
	// Resuming every room at once.
	if _, err := h.api.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "two", Metadata: "x"}); err != nil {
		t.Fatal(err)
	}
	resumed, _, _ := watch(t, h.api, &pb.WatchEventsRequest{Resume: []*pb.EventCursor{
		{Room: "one", AfterSeq: 2}, {Room: "two", AfterSeq: 1, RoomSid: seen["two"][0].GetRoomSid()}}})
	ev := next(t, resumed)
	if ev.GetRoom() != "two" || ev.GetSeq() != 2 || kind(ev) != "room_updated" {
		t.Fatalf("resumed with %v", ev)
	}
}

func TestWatchEndsWhenTheServerStops(t *testing.T) {
	h := start(t, nil)
	if _, err := h.api.CreateRoom(ctx(t), &pb.CreateRoomRequest{Name: "bye"}); err != nil {
		t.Fatal(err)
	}
	events, end, _ := watch(t, h.api, &pb.WatchEventsRequest{Room: "bye"})
	eventually(t, "the watcher registered", 5*time.Second, func() bool { return h.n.SFU().Watchers() == 1 })
	_ = h.n.Close()
	for range events {
	}
	if c := status.Code(*end); c != codes.Unavailable {
		t.Fatalf("stream ended with %v, want UNAVAILABLE", *end)
	}
}
