package loadtest

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/client/synth"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// source is a running synthetic media source.
type source interface {
	Start()
	Stop()
}

// publisher is one publishing participant and its sources.
type publisher struct {
	id      string
	c       *client.Client
	audio   bool
	sources []source
	tracks  []*client.LocalTrack
}

// publish adds the participant's track (video shaped by cfg, or audio) and starts sending.
// On error the caller closes the client.
func (p *publisher) publish(ctx context.Context, cfg *Config, index int) error {
	if p.audio {
		return p.publishAudio(ctx, index)
	}
	return p.publishVideo(ctx, cfg, index)
}

// Camera shape: 1280x720 at 30 fps; simulcast layers as synth's defaults (about 150, 500 and
// 1700 kbit/s), a single layer at the top layer's size and rate.
const (
	camWidth, camHeight = 1280, 720
	camBitrate          = 1_700_000
)

// keyframeInterval spreads periodic keyframes over 2.5..3.5 s by publisher, so publishers
// that started together do not send their (several times larger) keyframes in the same
// instant for the whole run, which no real room does.
func keyframeInterval(index int) time.Duration {
	return 2500*time.Millisecond + time.Duration(index*379%1000)*time.Millisecond
}

func (p *publisher) publishVideo(ctx context.Context, cfg *Config, index int) error {
	id, stream := "v-"+p.id, "s-"+p.id
	opts := client.TrackOptions{Name: "camera", Source: cascadev1.TrackSource_TRACK_SOURCE_CAMERA, Width: camWidth, Height: camHeight}
	if !cfg.Simulcast {
		var tr *webrtc.TrackLocalStaticRTP
		var src interface {
			source
			RequestKeyframe(string)
		}
		var err error
		if cfg.Codec == CodecH264 {
			if tr, err = synth.NewH264Track(id, stream); err != nil {
				return err
			}
			st, err := synth.NewH264Stream(synth.H264Config{Bitrate: camBitrate, Width: camWidth, Height: camHeight, Layer: 2,
				KeyframeInterval: keyframeInterval(index)})
			if err != nil {
				return err
			}
			src, err = synth.NewLayeredSource(synth.DefaultFPS, []synth.StreamLayer{{Writer: tr, Stream: st}})
			if err != nil {
				return err
			}
		} else {
			if tr, err = synth.NewVP8Track(id, stream); err != nil {
				return err
			}
			vs, err := synth.NewVP8Source(tr, synth.VP8Config{Bitrate: camBitrate, Width: camWidth, Height: camHeight, Layer: 2,
				KeyframeInterval: keyframeInterval(index)})
			if err != nil {
				return err
			}
			src = keyframeAnyLayer{vs}
		}
		lt, err := p.c.PublishTrackContext(ctx, tr, opts)
		if err != nil {
			return fmt.Errorf("publish video: %w", err)
		}
		lt.OnKeyframeRequest(func(string) { src.RequestKeyframe("") })
		p.started(lt, src)
		return nil
	}

	var tracks []*webrtc.TrackLocalStaticRTP
	var src interface {
		source
		RequestKeyframe(string)
		SetLayerActive(rid string, active bool)
	}
	var err error
	if cfg.Codec == CodecH264 {
		if tracks, err = synth.NewH264SimulcastTracks(id, stream); err != nil {
			return err
		}
		src, err = synth.NewH264SimulcastSource(synth.DefaultSimulcastLayers(tracks[0], tracks[1], tracks[2]),
			synth.H264Config{KeyframeInterval: keyframeInterval(index)})
	} else {
		if tracks, err = synth.NewSimulcastTracks(id, stream); err != nil {
			return err
		}
		src, err = synth.NewSimulcastSource(synth.DefaultSimulcastLayers(tracks[0], tracks[1], tracks[2]),
			synth.VP8Config{KeyframeInterval: keyframeInterval(index)})
	}
	if err != nil {
		return err
	}
	lt, err := p.c.PublishSimulcastContext(ctx, tracks, opts)
	if err != nil {
		return fmt.Errorf("publish simulcast video: %w", err)
	}
	lt.OnKeyframeRequest(src.RequestKeyframe)
	// Dynacast: pause the layers nobody receives, as a browser's encoder would.
	lt.OnLayerActive(src.SetLayerActive)
	p.started(lt, src)
	return nil
}

// keyframeAnyLayer adapts a single-layer source to the simulcast keyframe request.
type keyframeAnyLayer struct{ *synth.VP8Source }

func (k keyframeAnyLayer) RequestKeyframe(string) { k.VP8Source.RequestKeyframe() }

func (p *publisher) publishAudio(ctx context.Context, index int) error {
	tr, err := synth.NewOpusTrack("a-"+p.id, "s-"+p.id)
	if err != nil {
		return err
	}
	src, err := synth.NewOpusSource(tr, synth.OpusConfig{})
	if err != nil {
		return err
	}
	lt, err := p.c.PublishTrackContext(ctx, tr, client.TrackOptions{Name: "microphone", Source: cascadev1.TrackSource_TRACK_SOURCE_MICROPHONE})
	if err != nil {
		return fmt.Errorf("publish audio: %w", err)
	}
	src.SetAudioLevelExtensionID(lt.HeaderExtensionID(synth.AudioLevelURI))
	// Voices at different levels, so active-speaker detection has work to do.
	src.SetLevel(20+(index*7)%60, true)
	p.started(lt, src)
	return nil
}

func (p *publisher) started(lt *client.LocalTrack, s source) {
	p.tracks = append(p.tracks, lt)
	p.sources = append(p.sources, s)
	s.Start()
}

// stop stops the sources (waiting for their goroutines).
func (p *publisher) stop() {
	for _, s := range p.sources {
		s.Stop()
	}
}

// keyframeRequests sums the PLIs and FIRs the SFU sent for this publisher's tracks.
func (p *publisher) keyframeRequests() uint64 {
	var n uint64
	for _, lt := range p.tracks {
		st := lt.Stats()
		n += st.PLIs + st.FIRs
	}
	return n
}
