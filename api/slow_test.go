package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cascade-sfu/cascade/node"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// TestStalledWatcherDoesNotSlowTheSFU runs an event storm (8 KiB room metadata updates, as
// fast as the API answers) with and without a watcher that never reads. The stalled
// watcher is dropped once its buffer fills; media forwarding keeps pace with what the
// publisher sends and no call waits on the watcher; and when the watcher finally reads, it
// gets the events that were buffered, in order, then RESOURCE_EXHAUSTED. (Forwarded packets
// are compared with sent packets, not with a fixed rate, so a machine busy with other
// work does not fail the test.)
func TestStalledWatcherDoesNotSlowTheSFU(t *testing.T) {
	h := start(t, func(c *node.Config) { c.SFU.WatchBuffer = 32 })
	pub := h.join("media", "pub", nil)
	sub := h.join("media", "sub", nil)
	src := pub.publishAV()
	sub.receiving(50, src.vt.SID(), src.at.SID())
	subPart, err := h.n.SFU().Room("media").FindParticipant("sub")
	if err != nil {
		t.Fatal(err)
	}
	forwarded := func() uint64 {
		var n uint64
		for _, st := range subPart.DownTrackStats() {
			n += st.Packets
		}
		return n
	}
	sent := func() uint64 { return src.video.Stats().Packets + src.audio.Stats().Packets }
	metadata := strings.Repeat("x", 8<<10)
	// phase runs the storm for a fixed window and reports the share of the publisher's
	// packets forwarded to sub, the calls made and the slowest call.
	phase := func() (share float64, calls int, slowest time.Duration) {
		before, sentBefore := forwarded(), sent()
		end := time.Now().Add(2 * time.Second)
		for time.Now().Before(end) {
			start := time.Now()
			if _, err := h.api.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "media", Metadata: metadata}); err != nil {
				t.Fatal(err)
			}
			slowest = max(slowest, time.Since(start))
			calls++
		}
		return float64(forwarded()-before) / float64(max(sent()-sentBefore, 1)), calls, slowest
	}

	baseShare, baseCalls, baseSlowest := phase()

	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stalled, err := h.api.WatchEvents(wctx, &pb.WatchEventsRequest{Room: "media"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stalled.Header(); err != nil {
		t.Fatal(err)
	}
	share, calls, slowest := phase()
	t.Logf("without a stalled watcher: %.0f%% of sent packets forwarded, %d calls, slowest %v; with one: %.0f%%, %d calls, slowest %v",
		100*baseShare, baseCalls, baseSlowest, 100*share, calls, slowest)
	if h.n.SFU().Watchers() != 0 {
		t.Fatalf("the stalled watcher is still registered after %d events", calls)
	}
	if share < 0.85 || share < baseShare-0.1 {
		t.Fatalf("forwarded %.0f%% of sent packets with a stalled watcher, %.0f%% without", 100*share, 100*baseShare)
	}
	// A room waiting on the watcher would hold every call on it until the watcher read.
	if slowest > 5*time.Second {
		t.Fatalf("a call took %v with a stalled watcher", slowest)
	}

	// The watcher wakes up: what was buffered, gapless, then the end.
	var got []*pb.RoomEvent
	for {
		ev, err := stalled.Recv()
		if err != nil {
			wantCode(t, err, codes.ResourceExhausted, "stopped reading", "resuming after the last seq")
			break
		}
		got = append(got, ev)
	}
	if len(got) < 32 {
		t.Fatalf("got %d buffered events, want at least the watcher's buffer of 32", len(got))
	}
	gapless(t, got)

	// It resumes after the last event it got, if the room's replay window (512 events)
	// still holds what followed; the storm went on, so it may not, and then the answer
	// says to re-list.
	last := got[len(got)-1]
	live, _, _ := watch(t, h.api, &pb.WatchEventsRequest{Room: "media"})
	if _, err := h.api.UpdateRoomMetadata(ctx(t), &pb.UpdateRoomMetadataRequest{Room: "media", Metadata: "probe"}); err != nil {
		t.Fatal(err)
	}
	var seen []*pb.RoomEvent
	newest := until(t, live, "room_updated", &seen).GetSeq()
	s, err := h.api.WatchEvents(ctx(t), &pb.WatchEventsRequest{Room: "media", AfterSeq: last.GetSeq(), RoomSid: last.GetRoomSid()})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.Recv()
	if newest-last.GetSeq() > 512 {
		wantCode(t, err, codes.OutOfRange, "re-list")
	} else if err != nil || ev.GetSeq() != last.GetSeq()+1 {
		t.Fatalf("resumed with %v, %v; want seq %d", ev, err, last.GetSeq()+1)
	}
}
