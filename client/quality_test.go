package client

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

func streamInfo(psid, tsid string, st cascadev1.StreamState, cur, target, reason string) *cascadev1.StreamStateInfo {
	return &cascadev1.StreamStateInfo{ParticipantSid: psid, TrackSid: tsid, State: st, CurrentRid: cur, TargetRid: target, Reason: reason}
}

func TestRoomStateQuality(t *testing.T) {
	r := newRoomState(&cascadev1.JoinResponse{
		Participant: &cascadev1.ParticipantInfo{Sid: "PA_me", Identity: "me"},
		Others: []*cascadev1.ParticipantInfo{
			{Sid: "PA_a", Identity: "a", Tracks: []*cascadev1.TrackInfo{{Sid: "TR_a1"}, {Sid: "TR_a2"}}},
			{Sid: "PA_b", Identity: "b", Tracks: []*cascadev1.TrackInfo{{Sid: "TR_b1"}}},
		},
	})
	active, paused := cascadev1.StreamState_STREAM_STATE_ACTIVE, cascadev1.StreamState_STREAM_STATE_PAUSED_BANDWIDTH

	u := r.applyStreamState(&cascadev1.StreamStateUpdate{EstimateBps: 900_000, Streams: []*cascadev1.StreamStateInfo{
		streamInfo("PA_a", "TR_a1", active, "q", "h", "bandwidth"),
		streamInfo("PA_a", "TR_a2", active, "f", "f", ""),
		streamInfo("PA_b", "TR_b1", active, "h", "h", "preference"),
	}})
	if len(u.GetStreams()) != 3 || r.estimateBps() != 900_000 || len(r.streamStateMap()) != 3 {
		t.Fatalf("after the first update: %v, estimate %d, %v", u, r.estimateBps(), r.streamStateMap())
	}
	u.Streams[0].CurrentRid = "changed through the returned copy"
	if r.streamState("TR_a1").GetCurrentRid() != "q" {
		t.Fatal("the returned update shares state with the room")
	}

	// A partial update replaces only the tracks it lists, and the estimate.
	r.applyStreamState(&cascadev1.StreamStateUpdate{EstimateBps: 120_000, Streams: []*cascadev1.StreamStateInfo{
		streamInfo("PA_a", "TR_a1", paused, "", "q", "bandwidth"),
	}})
	if s := r.streamState("TR_a1"); s.GetState() != paused || s.GetCurrentRid() != "" || s.GetTargetRid() != "q" {
		t.Errorf("TR_a1 after the partial update: %v", s)
	}
	if s := r.streamState("TR_a2"); s.GetCurrentRid() != "f" {
		t.Errorf("TR_a2 lost its state: %v", s)
	}
	if r.estimateBps() != 120_000 {
		t.Errorf("estimate %d", r.estimateBps())
	}
	m := r.streamStateMap()
	m["TR_a2"].CurrentRid = "x"
	delete(m, "TR_b1")
	if r.streamState("TR_a2").GetCurrentRid() != "f" || r.streamState("TR_b1") == nil {
		t.Error("StreamStates map shares state with the room")
	}

	// Settings are recorded per track.
	r.setTrackSettings(&cascadev1.UpdateTrackSettings{TrackSids: []string{"TR_a1", "TR_b1"}, Width: 320, Height: 180, Priority: PinPriority})
	if s := r.trackSettings("TR_b1"); !slices.Equal(s.GetTrackSids(), []string{"TR_b1"}) || s.GetWidth() != 320 || s.GetPriority() != PinPriority {
		t.Errorf("settings of TR_b1: %v", s)
	}
	r.setTrackSettings(&cascadev1.UpdateTrackSettings{TrackSids: []string{"TR_a1"}, Disabled: true})
	if s := r.trackSettings("TR_a1"); !s.GetDisabled() || s.GetWidth() != 0 {
		t.Errorf("newer settings of TR_a1 do not replace the older: %v", s)
	}

	// Unsubscribing forgets the stream state; unpublishing and leaving forget everything.
	r.forgetStream("TR_a2")
	if r.streamState("TR_a2") != nil {
		t.Error("TR_a2 still has a stream state after unsubscribing")
	}
	r.trackUnpublished("PA_a", "TR_a1")
	if r.streamState("TR_a1") != nil || r.trackSettings("TR_a1") != nil {
		t.Error("TR_a1 remembered after unpublishing")
	}
	r.left("PA_b", "b")
	if r.streamState("TR_b1") != nil || r.trackSettings("TR_b1") != nil || len(r.streamStateMap()) != 0 {
		t.Errorf("b's track remembered after b left: %v", r.streamStateMap())
	}

	// Dynacast layers of local tracks.
	if r.subscribedLayers("TR_me") != nil {
		t.Fatal("layers before any update")
	}
	got := r.setSubscribedLayers("TR_me", []*cascadev1.SubscribedLayer{{Rid: "q", Active: true}, {Rid: "f"}})
	if len(got) != 2 || !proto.Equal(r.subscribedLayers("TR_me")[1], &cascadev1.SubscribedLayer{Rid: "f"}) {
		t.Fatalf("layers %v", r.subscribedLayers("TR_me"))
	}
	if r.setSubscribedLayers("TR_me", nil); r.subscribedLayers("TR_me") == nil {
		t.Error("an empty update reads as no update")
	}
	r.trackUnpublished("PA_me", "TR_me")
	if r.subscribedLayers("TR_me") != nil {
		t.Error("layers kept after unpublishing")
	}
}

// offlineClient is a client with room state, handlers and an event queue but no connection:
// enough to feed it server messages through handle.
func offlineClient(t *testing.T) *Client {
	t.Helper()
	c := &Client{
		room:    newRoomState(&cascadev1.JoinResponse{Participant: &cascadev1.ParticipantInfo{Sid: "PA_me"}}),
		events:  newEventQueue(),
		changed: make(chan struct{}),
		pub:     &publisher{tracks: map[string]*LocalTrack{}},
	}
	c.pub.c = c
	go c.events.run(&c.cbGIDs)
	t.Cleanup(func() {
		c.events.close()
		<-c.events.done
	})
	return c
}

// drain waits until everything queued on c's event goroutine so far has run.
func drain(t *testing.T, c *Client) {
	t.Helper()
	done := make(chan struct{})
	if !c.events.push(func() { close(done) }) {
		t.Fatal("event queue closed")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("event queue stuck")
	}
}

func layersMsg(sid string, active ...bool) *cascadev1.SignalResponse {
	u := &cascadev1.SubscribedLayersUpdate{TrackSid: sid}
	for i, a := range active {
		u.Layers = append(u.Layers, &cascadev1.SubscribedLayer{Rid: []string{"q", "h", "f"}[i], Active: a})
	}
	return &cascadev1.SignalResponse{Message: &cascadev1.SignalResponse_SubscribedLayers{SubscribedLayers: u}}
}

func TestSubscribedLayersHook(t *testing.T) {
	c := offlineClient(t)
	lt := &LocalTrack{c: c, cid: "cam", rids: []string{"q", "h", "f"}, info: &cascadev1.TrackInfo{Sid: "TR_cam"}}
	c.pub.tracks["cam"] = lt

	type call struct {
		rid    string
		active bool
	}
	var mu sync.Mutex
	var calls []call
	var updates [][]string
	took := func() []call {
		mu.Lock()
		defer mu.Unlock()
		out := calls
		calls = nil
		return out
	}
	c.OnSubscribedLayers(func(sid string, ls []*cascadev1.SubscribedLayer) {
		mu.Lock()
		defer mu.Unlock()
		u := []string{sid}
		for _, l := range ls {
			if l.GetActive() {
				u = append(u, l.GetRid())
			}
		}
		updates = append(updates, u)
	})

	if got := lt.ActiveLayers(); !slices.Equal(got, []string{"q", "h", "f"}) {
		t.Fatalf("before any update every layer is active; got %v", got)
	}
	// The update may arrive before the publisher sets the hook; setting it applies it.
	c.handle(layersMsg("TR_cam", true, true, false))
	if got := lt.ActiveLayers(); !slices.Equal(got, []string{"q", "h"}) || lt.LayerActive("f") {
		t.Fatalf("active layers %v", got)
	}
	lt.OnLayerActive(func(rid string, active bool) {
		mu.Lock()
		calls = append(calls, call{rid, active})
		mu.Unlock()
	})
	drain(t, c)
	if got := took(); !slices.Equal(got, []call{{"q", true}, {"h", true}, {"f", false}}) {
		t.Fatalf("hook calls when set: %v", got)
	}

	// Later updates report only the layers that changed.
	c.handle(layersMsg("TR_cam", true, false, false))
	c.handle(layersMsg("TR_cam", true, false, false))
	drain(t, c)
	if got := took(); !slices.Equal(got, []call{{"h", false}}) {
		t.Fatalf("hook calls after h went off: %v", got)
	}
	c.handle(layersMsg("TR_cam", true, true, true))
	drain(t, c)
	if got := took(); !slices.Equal(got, []call{{"h", true}, {"f", true}}) {
		t.Fatalf("hook calls after h and f came back: %v", got)
	}
	if sl := lt.SubscribedLayers(); len(sl) != 3 || !sl[2].GetActive() {
		t.Fatalf("SubscribedLayers %v", sl)
	}

	// Updates for other tracks reach OnSubscribedLayers but not this hook.
	c.handle(layersMsg("TR_other", false))
	lt.OnLayerActive(nil)
	c.handle(layersMsg("TR_cam", true, false, false))
	drain(t, c)
	if got := took(); len(got) != 0 {
		t.Fatalf("hook called after removal or for another track: %v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{"TR_cam", "q", "h"}, {"TR_cam", "q"}, {"TR_cam", "q"}, {"TR_cam", "q", "h", "f"}, {"TR_other"}, {"TR_cam", "q"}}
	if !slices.EqualFunc(updates, want, slices.Equal) {
		t.Fatalf("OnSubscribedLayers saw %v, want %v", updates, want)
	}
}

func TestStreamStateHandling(t *testing.T) {
	c := offlineClient(t)
	got := make(chan *cascadev1.StreamStateUpdate, 4)
	c.OnStreamState(func(u *cascadev1.StreamStateUpdate) {
		// The room state already holds the update when the handler runs.
		if s := c.StreamState(u.GetStreams()[0].GetTrackSid()); !proto.Equal(s, u.GetStreams()[0]) {
			t.Errorf("StreamState in the handler: %v, update %v", s, u)
		}
		got <- u
	})
	c.handle(&cascadev1.SignalResponse{Message: &cascadev1.SignalResponse_StreamState{StreamState: &cascadev1.StreamStateUpdate{
		EstimateBps: 2_000_000,
		Streams:     []*cascadev1.StreamStateInfo{streamInfo("PA_a", "TR_v", cascadev1.StreamState_STREAM_STATE_PAUSED_PREFERENCE, "", "", "preference")},
	}}})
	select {
	case u := <-got:
		if u.GetEstimateBps() != 2_000_000 || len(u.GetStreams()) != 1 {
			t.Fatalf("handler got %v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnStreamState not called")
	}
	if c.BandwidthEstimate() != 2_000_000 || len(c.StreamStates()) != 1 ||
		c.StreamState("TR_v").GetState() != cascadev1.StreamState_STREAM_STATE_PAUSED_PREFERENCE {
		t.Fatalf("room state: estimate %d, states %v", c.BandwidthEstimate(), c.StreamStates())
	}
}

func TestUpdateTrackSettingsValidation(t *testing.T) {
	c := offlineClient(t)
	for _, s := range []*cascadev1.UpdateTrackSettings{nil, {}, {TrackSids: []string{"TR_1"}, MaxRid: "x"}} {
		if err := c.UpdateTrackSettings(context.Background(), s); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("UpdateTrackSettings(%v) = %v, want ErrInvalidArgument", s, err)
		}
	}
}
