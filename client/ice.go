package client

import (
	"sync"

	"github.com/pion/webrtc/v4"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// candidates buffers trickled ICE candidates in both directions for one peer connection
// (RFC 8838): remote ones until the remote description is set (pion refuses them before), and
// local ones until the first local description has been sent (so the SFU sees the description
// before the candidates that belong to it).
type candidates struct {
	role PCRole
	send func(*cascadev1.SignalRequest) error

	mu            sync.Mutex // guards the fields below
	remoteReady   bool
	remotePending []webrtc.ICECandidateInit
	localReady    bool
	localPending  []*cascadev1.IceCandidate
}

func (b *candidates) target() cascadev1.SignalTarget {
	if b.role == Publisher {
		return cascadev1.SignalTarget_SIGNAL_TARGET_PUBLISHER
	}
	return cascadev1.SignalTarget_SIGNAL_TARGET_SUBSCRIBER
}

// addRemote applies a remote candidate now, or later once the remote description is set.
func (b *candidates) addRemote(pc *webrtc.PeerConnection, c webrtc.ICECandidateInit) error {
	b.mu.Lock()
	if !b.remoteReady {
		b.remotePending = append(b.remotePending, c)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return pc.AddICECandidate(c)
}

// remoteDescriptionSet applies the buffered remote candidates.
func (b *candidates) remoteDescriptionSet(pc *webrtc.PeerConnection) []error {
	b.mu.Lock()
	b.remoteReady = true
	pending := b.remotePending
	b.remotePending = nil
	b.mu.Unlock()
	var errs []error
	for _, c := range pending {
		if err := pc.AddICECandidate(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// local sends a gathered candidate (nil: gathering finished), or holds it until the first
// local description has gone out.
func (b *candidates) local(c *webrtc.ICECandidate) error {
	var pc *cascadev1.IceCandidate
	if c == nil {
		pc = &cascadev1.IceCandidate{} // empty candidate: end of candidates
	} else {
		pc = candidateToProto(c.ToJSON())
	}
	b.mu.Lock()
	if !b.localReady {
		b.localPending = append(b.localPending, pc)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.sendOne(pc)
}

// localDescriptionSent releases held local candidates.
func (b *candidates) localDescriptionSent() error {
	b.mu.Lock()
	b.localReady = true
	pending := b.localPending
	b.localPending = nil
	b.mu.Unlock()
	for _, c := range pending {
		if err := b.sendOne(c); err != nil {
			return err
		}
	}
	return nil
}

func (b *candidates) sendOne(c *cascadev1.IceCandidate) error {
	return b.send(&cascadev1.SignalRequest{Message: &cascadev1.SignalRequest_Trickle{
		Trickle: &cascadev1.TrickleRequest{Target: b.target(), Candidate: c},
	}})
}

func candidateToProto(c webrtc.ICECandidateInit) *cascadev1.IceCandidate {
	out := &cascadev1.IceCandidate{Candidate: c.Candidate}
	if c.SDPMid != nil {
		out.SdpMid = *c.SDPMid
	}
	if c.SDPMLineIndex != nil {
		out.SdpMlineIndex = uint32(*c.SDPMLineIndex)
	}
	if c.UsernameFragment != nil {
		out.UsernameFragment = *c.UsernameFragment
	}
	return out
}

// candidateFromProto converts a trickled candidate. proto3 JSON drops empty strings and zeros,
// so an absent sdpMid stays unset, while the m-line index is always given (0 is its default).
func candidateFromProto(c *cascadev1.IceCandidate) webrtc.ICECandidateInit {
	out := webrtc.ICECandidateInit{Candidate: c.GetCandidate()}
	if mid := c.GetSdpMid(); mid != "" {
		out.SDPMid = &mid
	}
	idx := uint16(c.GetSdpMlineIndex())
	out.SDPMLineIndex = &idx
	if uf := c.GetUsernameFragment(); uf != "" {
		out.UsernameFragment = &uf
	}
	return out
}
