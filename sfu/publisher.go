package sfu

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/router"
	"github.com/cascade-sfu/cascade/simulcast"
	"github.com/cascade-sfu/cascade/transport"
)

// AddTrackParams announces a track the client is about to publish.
type AddTrackParams struct {
	CID           string
	Name          string
	Kind          TrackKind
	Source        TrackSource
	Width, Height uint32
	Muted         bool
	Layers        []VideoLayer
}

// AddTrack records a track the client will offer; its media is matched by cid.
func (p *Participant) AddTrack(a AddTrackParams) (TrackInfo, error) {
	var info TrackInfo
	err := p.do(func() error {
		if a.CID == "" || len(a.CID) > maxNameLen || len(a.Name) > maxNameLen {
			return fmt.Errorf("%w: cid must be 1..%d bytes and name at most %d", ErrInvalidArgument, maxNameLen, maxNameLen)
		}
		if a.Kind != KindAudio && a.Kind != KindVideo {
			return fmt.Errorf("%w: kind must be audio or video", ErrInvalidArgument)
		}
		if len(a.Layers) > simulcast.MaxLayers {
			return fmt.Errorf("%w: at most %d layers", ErrInvalidArgument, simulcast.MaxLayers)
		}
		for _, l := range a.Layers {
			if _, ok := simulcast.LayerForRID(l.RID); !ok || l.RID == "" {
				return fmt.Errorf("%w: layer rid %q is not q, h or f", ErrInvalidArgument, l.RID)
			}
		}
		perm := p.perm()
		if !perm.SourceAllowed(a.Source) {
			return fmt.Errorf("%w: may not publish %s", ErrPermissionDenied, a.Source.GrantName())
		}
		p.infoMu.Lock()
		defer p.infoMu.Unlock()
		if _, dup := p.pending[a.CID]; dup {
			return ErrDuplicateTrackCID
		}
		for _, t := range p.trackOrder {
			if t.cid == a.CID {
				return ErrDuplicateTrackCID
			}
		}
		if len(p.pending)+len(p.trackOrder) >= p.sfu.cfg.MaxTracksPerParticipant {
			return fmt.Errorf("%w: at most %d tracks", ErrInvalidArgument, p.sfu.cfg.MaxTracksPerParticipant)
		}
		t := &publishedTrack{sid: newID("TR_"), cid: a.CID, kind: a.Kind, source: a.Source, name: a.Name,
			width: a.Width, height: a.Height, layers: a.Layers, simulcast: len(a.Layers) > 1, owner: p}
		t.mutedFlag.Store(a.Muted)
		p.pending[a.CID] = t
		info = t.info()
		return nil
	})
	return info, err
}

// HandleOffer applies a publisher offer and sends the answer through the sink.
func (p *Participant) HandleOffer(offer webrtc.SessionDescription, id uint32) error {
	return p.do(func() error {
		if offer.Type != webrtc.SDPTypeOffer {
			return fmt.Errorf("%w: expected an offer", ErrBadSDP)
		}
		if err := checkOffer(offer.SDP, p.perm().CanPublish); err != nil {
			return err
		}
		if err := p.pub.SetRemoteDescription(offer); err != nil {
			return fmt.Errorf("%w: %v", ErrBadSDP, err)
		}
		p.flushCandidatesLocked(TargetPublisher)
		answer, err := p.pub.CreateAnswer(nil)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrNegotiationFailed, err)
		}
		if err := p.pub.SetLocalDescription(answer); err != nil {
			return fmt.Errorf("%w: %v", ErrNegotiationFailed, err)
		}
		p.sink.SendAnswer(answer, id)
		return nil
	})
}

// supportedCodecs are the lower-case encoding names Cascade forwards.
var supportedCodecs = map[string]bool{"opus": true, "vp8": true, "h264": true, "vp9": true, "av1": true}

// checkOffer rejects SDP that does not parse, media sections that send with no codec we
// forward, and sending media without the publish grant.
func checkOffer(raw string, canPublish bool) error {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	for _, m := range sd.MediaDescriptions {
		kind := m.MediaName.Media
		if kind != "audio" && kind != "video" {
			continue
		}
		if m.MediaName.Port.Value == 0 {
			continue // rejected or stopped section
		}
		sending := true
		for _, a := range m.Attributes {
			if a.Key == "recvonly" || a.Key == "inactive" {
				sending = false
			}
		}
		if !sending {
			continue
		}
		if !canPublish {
			return fmt.Errorf("%w: may not publish media", ErrPermissionDenied)
		}
		found := false
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			// "96 VP8/90000"
			_, enc, ok := strings.Cut(a.Value, " ")
			name, _, _ := strings.Cut(enc, "/")
			if ok && supportedCodecs[strings.ToLower(name)] {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: %s section offers none of opus, VP8, H264, VP9, AV1", ErrNoSupportedCodec, kind)
		}
	}
	return nil
}

// trackSource adapts a pion remote track to router.PacketSource.
type trackSource struct{ t *webrtc.TrackRemote }

func (s trackSource) ReadPacket(b []byte) (int, error) {
	n, _, err := s.t.Read(b)
	return n, err
}

// handleTrack runs on the ops queue when a publisher stream's first packet arrives.
func (p *Participant) handleTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if p.closed.Load() {
		return
	}
	kind := KindVideo
	if t.Kind() == webrtc.RTPCodecTypeAudio {
		kind = KindAudio
	}
	layer, ok := simulcast.LayerForRID(t.RID())
	if !ok {
		p.log.Warn("ignoring stream with unknown rid", "rid", t.RID())
		return
	}
	p.infoMu.Lock()
	pt := p.pending[t.ID()]
	if pt == nil {
		for _, x := range p.trackOrder {
			if x.cid == t.ID() {
				pt = x
			}
		}
	}
	if pt == nil {
		// Published without addTrack: still forward it, with what the SDP tells.
		pt = &publishedTrack{sid: newID("TR_"), cid: t.ID(), kind: kind, name: t.ID(), owner: p, simulcast: t.RID() != ""}
		if kind == KindAudio {
			pt.source = SourceMicrophone
		} else {
			pt.source = SourceCamera
		}
		p.pending[t.ID()] = pt
	}
	p.infoMu.Unlock()
	if pt.kind != kind {
		p.log.Warn("track kind does not match its addTrack", "cid", t.ID())
		return
	}
	if !p.perm().SourceAllowed(pt.source) {
		// Publishing was revoked after the offer that carries this stream was accepted.
		p.log.Info("ignoring stream: publishing it is not allowed", "cid", t.ID(), "source", pt.source.GrantName())
		p.infoMu.Lock()
		delete(p.pending, pt.cid)
		p.infoMu.Unlock()
		return
	}
	rc := pt.recv()
	first := rc == nil
	if first {
		codec := t.Codec()
		mime := codec.MimeType
		pt.mime.Store(&mime)
		rkind := router.KindVideo
		if kind == KindAudio {
			rkind = router.KindAudio
		}
		rc = router.NewReceiver(router.ReceiverConfig{
			TrackID:         pt.sid,
			Codec:           router.Codec{Kind: rkind, MimeType: mime, ClockRate: codec.ClockRate, Channels: codec.Channels, FmtpLine: codec.SDPFmtpLine},
			Simulcast:       t.RID() != "",
			AudioLevelExtID: extID(recv, transport.ExtAudioLevel),
			Keyframes:       p,
			Listener:        p,
			Latency:         &p.sfu.latency,
			Logger:          p.log,
			NewBatch:        func() router.Batch { return transport.NewBatch() },
		})
		pt.receiver.Store(rc)
		for l := range pt.lastNeeded {
			pt.lastNeeded[l] = time.Now()
		}
	}
	if err := rc.AddLayer(layer, uint32(t.SSRC()), trackSource{t}); err != nil {
		p.log.Warn("cannot add stream", "track", pt.sid, "rid", t.RID(), "err", err)
		return
	}
	p.wg.Add(1)
	go p.drainReceiverRTCP(recv, t.RID())
	if first {
		p.infoMu.Lock()
		delete(p.pending, pt.cid)
		p.tracks[pt.sid] = pt
		p.trackOrder = append(p.trackOrder, pt)
		p.infoMu.Unlock()
		p.log.Info("track published", "track", pt.sid, "kind", kind, "codec", t.Codec().MimeType, "simulcast", t.RID() != "")
		p.room.trackPublished(p, pt)
	}
}

// drainReceiverRTCP reads the publisher's RTCP for one stream so the interceptors (receiver
// reports, NACK generation) see its sender reports.
func (p *Participant) drainReceiverRTCP(recv *webrtc.RTPReceiver, rid string) {
	defer p.wg.Done()
	for {
		var err error
		if rid != "" {
			_, _, err = recv.ReadSimulcastRTCP(rid)
		} else {
			_, _, err = recv.ReadRTCP()
		}
		if err != nil {
			return
		}
	}
}

func extID(recv *webrtc.RTPReceiver, uri string) uint8 {
	for _, e := range recv.GetParameters().HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

// OnStreamEnded implements router.ReceiverListener.
func (p *Participant) OnStreamEnded(r *router.Receiver, layer int8, err error, last bool) {
	if !last {
		return
	}
	p.ops.Push(func() { p.unpublishLocked(r.TrackID(), false) })
}

// Unpublish stops publishing a track.
func (p *Participant) Unpublish(trackSID string) error {
	return p.do(func() error {
		if !p.unpublishLocked(trackSID, false) {
			return ErrTrackNotFound
		}
		return nil
	})
}

// unpublishLocked stops forwarding a track and tells the room; byServer also tells the
// publisher, which did not ask for it.
func (p *Participant) unpublishLocked(sid string, byServer bool) bool {
	p.infoMu.Lock()
	t := p.tracks[sid]
	if t != nil {
		delete(p.tracks, sid)
		for i, x := range p.trackOrder {
			if x == t {
				p.trackOrder = append(p.trackOrder[:i:i], p.trackOrder[i+1:]...)
				break
			}
		}
	}
	p.infoMu.Unlock()
	if t == nil {
		return false
	}
	t.recv().Close()
	p.room.trackUnpublished(p, sid, byServer)
	p.log.Info("track unpublished", "track", sid, "by_server", byServer)
	return true
}

// SetTrackMuted records a publisher's mute and tells the room.
func (p *Participant) SetTrackMuted(trackSID string, muted bool) error {
	_, err := p.setTrackMuted(trackSID, muted, false)
	return err
}

// setTrackMuted records a mute and tells the room; byServer tells the publisher too.
func (p *Participant) setTrackMuted(trackSID string, muted, byServer bool) (TrackInfo, error) {
	var info TrackInfo
	err := p.do(func() error {
		p.infoMu.Lock()
		t := p.tracks[trackSID]
		if t == nil {
			for _, x := range p.pending {
				if x.sid == trackSID {
					t = x
				}
			}
		}
		p.infoMu.Unlock()
		if t == nil {
			return fmt.Errorf("%w: participant %q publishes no track %s", ErrTrackNotFound, p.identity, trackSID)
		}
		if t.mutedFlag.Swap(muted) != muted {
			e := TrackMutedEvent{ParticipantSID: p.sid, TrackSID: trackSID, Muted: muted}
			if byServer {
				p.room.emitAbout(p, e)
			} else {
				p.room.emit(e, p)
			}
		}
		info = t.info()
		return nil
	})
	return info, err
}
