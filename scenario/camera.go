package scenario

import (
	"fmt"
	"time"

	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// LayerBitrates are the nominal bitrates of the q, h and f layers a Camera sends.
var LayerBitrates = [3]int{150_000, 500_000, 1_700_000}

// AudioBitrate is the Opus payload rate a Camera's microphone sends.
const AudioBitrate = 32_000

// CameraOptions shape a Camera.
type CameraOptions struct {
	Video, Audio     bool
	TemporalLayers   int           // default 3
	KeyframeInterval time.Duration // default 3 s
	// NoDynacast keeps every layer on whatever the SFU says.
	NoDynacast bool
	// LayerBitrates of q, h and f (default LayerBitrates).
	LayerBitrates [3]int
}

// Camera is a participant's synthetic camera and microphone: 3-layer VP8 simulcast
// (320x180, 640x360, 1280x720, by default at LayerBitrates, 30 fps, real payload descriptors with
// temporal layers, keyframes periodically and on PLI) and Opus. It follows dynacast like
// a browser: layers nobody receives are paused.
type Camera struct {
	Video *synth.SimulcastSource
	Audio *synth.OpusSource
	// VideoTrack and AudioTrack are the published tracks (nil when not published).
	VideoTrack, AudioTrack *client.LocalTrack
}

// PublishCamera publishes a camera (and microphone) on c; Start starts the media.
func PublishCamera(c *client.Client, name string, o CameraOptions) (*Camera, error) {
	if o.TemporalLayers == 0 {
		o.TemporalLayers = 3
	}
	if o.KeyframeInterval == 0 {
		o.KeyframeInterval = 3 * time.Second
	}
	if o.LayerBitrates == [3]int{} {
		o.LayerBitrates = LayerBitrates
	}
	cam := &Camera{}
	if o.Video {
		tracks, err := synth.NewSimulcastTracks("cam-"+name, "av-"+name)
		if err != nil {
			return nil, err
		}
		layers := synth.DefaultSimulcastLayers(tracks[0], tracks[1], tracks[2])
		for i := range layers {
			layers[i].Bitrate = o.LayerBitrates[i]
		}
		cam.Video, err = synth.NewSimulcastSource(layers, synth.VP8Config{FPS: 30,
			KeyframeInterval: o.KeyframeInterval, TemporalLayers: o.TemporalLayers})
		if err != nil {
			return nil, err
		}
		vl := make([]*cascadev1.VideoLayer, len(layers))
		for i, l := range layers {
			vl[i] = &cascadev1.VideoLayer{Rid: l.RID, Width: uint32(l.Width), Height: uint32(l.Height), Bitrate: uint32(l.Bitrate)}
		}
		cam.VideoTrack, err = c.PublishSimulcast(tracks, client.TrackOptions{Name: "camera",
			Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: 1280, Height: 720, Layers: vl})
		if err != nil {
			return nil, fmt.Errorf("%s: publish camera: %w", name, err)
		}
		cam.VideoTrack.OnKeyframeRequest(cam.Video.RequestKeyframe)
		if !o.NoDynacast {
			cam.VideoTrack.OnLayerActive(cam.Video.SetLayerActive)
		}
	}
	if o.Audio {
		tr, err := synth.NewOpusTrack("mic-"+name, "av-"+name)
		if err != nil {
			return nil, err
		}
		if cam.Audio, err = synth.NewOpusSource(tr, synth.OpusConfig{Bitrate: AudioBitrate}); err != nil {
			return nil, err
		}
		cam.AudioTrack, err = c.PublishTrack(tr, client.TrackOptions{Name: "microphone",
			Source: cascadev1.TrackSource_TRACK_SOURCE_MICROPHONE})
		if err != nil {
			return nil, fmt.Errorf("%s: publish microphone: %w", name, err)
		}
		cam.Audio.SetAudioLevelExtensionID(cam.AudioTrack.HeaderExtensionID(client.AudioLevelURI))
		cam.Audio.SetLevel(127, false) // silent: nobody becomes the active speaker
	}
	return cam, nil
}

// Start starts the media.
func (c *Camera) Start() {
	if c.Video != nil {
		c.Video.Start()
	}
	if c.Audio != nil {
		c.Audio.Start()
	}
}

// Stop stops the media and waits for the sources' goroutines.
func (c *Camera) Stop() {
	if c.Video != nil {
		c.Video.Stop()
	}
	if c.Audio != nil {
		c.Audio.Stop()
	}
}
