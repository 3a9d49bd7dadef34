package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// A bot that publishes synthetic camera video, checks what it receives, and greets the room.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Join(ctx, "ws://127.0.0.1:7700", "<access token>", client.WithIncludeLoopback())
	if err != nil {
		fmt.Println("join:", client.ErrorCode(err), err)
		return
	}
	defer c.Leave()

	c.OnTrack(func(t *client.RemoteTrack) {
		var asm synth.Assembler
		for {
			p, err := t.ReadRTP()
			if err != nil {
				return // the track ended or the client closed
			}
			if f, ok, err := asm.Push(p); ok && err == nil {
				fmt.Println(t.ParticipantIdentity, "frame", f.Header.FrameNumber, "latency", f.Header.Latency(time.Now()))
			}
		}
	})

	track, _ := synth.NewVP8Track("camera", "bot")
	src, _ := synth.NewVP8Source(track, synth.VP8Config{Bitrate: 800_000})
	lt, err := c.PublishTrack(track, client.TrackOptions{
		Name: "camera", Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: 640, Height: 360,
	})
	if err != nil {
		fmt.Println("publish:", err)
		return
	}
	lt.OnKeyframeRequest(func(string) { src.RequestKeyframe() })
	src.Start()
	defer src.Stop()

	if err := c.WaitReady(ctx); err == nil {
		_ = c.SendData([]byte("hello"), client.Reliable, "chat")
	}
	<-ctx.Done()
}

// A simulcast publisher that pauses the layers nobody receives (dynacast), and a viewer that
// asks for the layer its 320x180 tile needs and pins it.
func ExampleLocalTrack_OnLayerActive() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pubc, err := client.Join(ctx, "ws://127.0.0.1:7700", "<publisher token>", client.WithIncludeLoopback())
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer pubc.Leave()
	tracks, _ := synth.NewSimulcastTracks("camera", "bot")
	src, _ := synth.NewSimulcastSource(synth.DefaultSimulcastLayers(tracks[0], tracks[1], tracks[2]), synth.VP8Config{})
	lt, err := pubc.PublishSimulcast(tracks, client.TrackOptions{
		Name: "camera", Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: 1280, Height: 720,
	})
	if err != nil {
		fmt.Println("publish:", err)
		return
	}
	lt.OnKeyframeRequest(src.RequestKeyframe)
	lt.OnLayerActive(src.SetLayerActive) // also applies an update that arrived before this call
	src.Start()
	defer src.Stop()

	viewer, err := client.Join(ctx, "ws://127.0.0.1:7700", "<viewer token>", client.WithIncludeLoopback())
	if err != nil {
		fmt.Println("join:", err)
		return
	}
	defer viewer.Leave()
	viewer.OnStreamState(func(u *cascadev1.StreamStateUpdate) {
		for _, s := range u.GetStreams() {
			fmt.Println(s.GetTrackSid(), s.GetState(), s.GetCurrentRid(), "->", s.GetTargetRid(), s.GetReason())
		}
	})
	_ = viewer.WaitFor(ctx, func() bool { _, t := viewer.Track(lt.SID()); return t != nil })
	_ = viewer.UpdateTrackSettings(ctx, &cascadev1.UpdateTrackSettings{
		TrackSids: []string{lt.SID()}, Width: 320, Height: 180, Priority: client.PinPriority,
	})
	_ = pubc.WaitFor(ctx, func() bool { return !lt.LayerActive("f") })
	fmt.Println("layers sent:", lt.ActiveLayers())
}
