package client_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// TestQualityPreferencesAndDynacast: a subscriber that renders a simulcast track small gets
// its lowest layer, and the publisher is told nobody needs the full one (and, with the
// source hooked to OnLayerActive, stops making it); a disabled track is paused by preference
// and no longer so once enabled again. (Which layer the SFU forwards without a size limit
// depends on its bandwidth estimate, so the test does not insist on seeing more than q.)
func TestQualityPreferencesAndDynacast(t *testing.T) {
	n := startNode(t)
	alice := join(t, n, "quality", "alice")
	bob := join(t, n, "quality", "bob")
	rb := newReceiver(bob)
	var states, layerUpdates atomic.Int64
	bob.OnStreamState(func(*cascadev1.StreamStateUpdate) { states.Add(1) })
	alice.OnSubscribedLayers(func(string, []*cascadev1.SubscribedLayer) { layerUpdates.Add(1) })

	tracks, err := synth.NewSimulcastTracks("cam", "alice-stream")
	if err != nil {
		t.Fatal(err)
	}
	src, err := synth.NewSimulcastSource(synth.DefaultSimulcastLayers(tracks[0], tracks[1], tracks[2]),
		synth.VP8Config{FPS: 30, KeyframeInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := alice.PublishSimulcast(tracks, client.TrackOptions{
		Name: "camera", Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: 1280, Height: 720,
	})
	if err != nil {
		t.Fatal(err)
	}
	lt.OnKeyframeRequest(src.RequestKeyframe)
	lt.OnLayerActive(src.SetLayerActive)
	src.Start()
	defer src.Stop()
	sid := lt.SID()
	waitFor(t, bob, "frames at bob", func() bool { v, _ := rb.counts(sid); return v >= 15 })
	waitFor(t, bob, "a stream state for alice's camera", func() bool { return bob.StreamState(sid) != nil })
	t.Logf("before settings: %v, estimate %d bit/s", bob.StreamState(sid), bob.BandwidthEstimate())

	// A 320x180 tile: q (320x180) is the smallest layer at least that large.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := bob.UpdateTrackSettings(ctx, &cascadev1.UpdateTrackSettings{TrackSids: []string{sid}, Width: 320, Height: 180}); err != nil {
		t.Fatal(err)
	}
	if s := bob.TrackSettings(sid); s.GetWidth() != 320 || s.GetHeight() != 180 {
		t.Fatalf("recorded settings %v", s)
	}
	waitFor(t, bob, "bob's current layer to drop to q", func() bool {
		s := bob.StreamState(sid)
		return s.GetState() == cascadev1.StreamState_STREAM_STATE_ACTIVE && s.GetCurrentRid() == "q" && s.GetTargetRid() == "q"
	})
	waitFor(t, alice, "subscribedLayers without f at alice", func() bool {
		return lt.SubscribedLayers() != nil && !lt.LayerActive("f") && lt.LayerActive("q")
	})
	t.Logf("after 320x180: bob %v; alice sends %v", bob.StreamState(sid), lt.ActiveLayers())

	// The OnLayerActive hook paused the source's f layer.
	waitFor(t, alice, "the source to stop making f", func() bool {
		before := src.Stats("f").Frames
		time.Sleep(200 * time.Millisecond)
		return src.Stats("f").Frames == before
	})

	// Disabled: paused by preference.
	if err := bob.UpdateTrackSettings(ctx, &cascadev1.UpdateTrackSettings{TrackSids: []string{sid}, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "the track paused by preference", func() bool {
		return bob.StreamState(sid).GetState() == cascadev1.StreamState_STREAM_STATE_PAUSED_PREFERENCE
	})
	waitFor(t, bob, "video to stop while paused", func() bool { return trackEnded(rb, sid) })

	// Enabled again, pinned, without a size limit: no longer paused by preference (whether
	// it is active or paused for bandwidth is up to the estimate).
	if err := bob.UpdateTrackSettings(ctx, &cascadev1.UpdateTrackSettings{TrackSids: []string{sid}, Priority: client.PinPriority}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bob, "the track no longer paused by preference", func() bool {
		s := bob.StreamState(sid)
		return s.GetState() != cascadev1.StreamState_STREAM_STATE_PAUSED_PREFERENCE && s.GetReason() != "preference"
	})
	if n := rb.corrupt.Load(); n > 0 {
		t.Errorf("%d corrupt frames: %v", n, rb.errs[:min(len(rb.errs), 5)])
	}
	t.Logf("after resuming: bob %v; alice sends %v; %d stream states, %d layer updates",
		bob.StreamState(sid), lt.ActiveLayers(), states.Load(), layerUpdates.Load())
	if states.Load() == 0 || layerUpdates.Load() == 0 {
		t.Errorf("handlers: %d stream states, %d layer updates", states.Load(), layerUpdates.Load())
	}
}
