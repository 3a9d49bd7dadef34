package client

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
)

// stamper writes the header extensions an SFU needs to tell a publisher's streams apart: the
// mid (RFC 8843 section 15) on every packet, and the rid (RFC 8852) on simulcast encodings.
// pion's RTPSender writes neither, and a receiver cannot map rid-based simulcast layers to
// SSRCs without them. It is an interceptor factory for the publisher connection; the client
// registers each encoding's SSRC after creating an offer (when mids are known) and before the
// answer is applied (when pion binds the streams).
type stamper struct {
	mu     sync.Mutex // guards bySSRC
	bySSRC map[uint32]stampIDs
}

type stampIDs struct{ mid, rid string }

func newStamper() *stamper { return &stamper{bySSRC: map[uint32]stampIDs{}} }

func (s *stamper) set(ssrc uint32, mid, rid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bySSRC[ssrc] = stampIDs{mid: mid, rid: rid}
}

func (s *stamper) remove(ssrc uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.bySSRC, ssrc)
}

func (s *stamper) lookup(ssrc uint32) (stampIDs, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids, ok := s.bySSRC[ssrc]
	return ids, ok
}

// NewInterceptor implements interceptor.Factory.
func (s *stamper) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &stampInterceptor{s: s}, nil
}

type stampInterceptor struct {
	interceptor.NoOp
	s *stamper
}

// BindLocalStream wraps the writer of a stream the client registered.
func (i *stampInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	ids, ok := i.s.lookup(info.SSRC)
	if !ok {
		return w
	}
	var midID, ridID uint8
	for _, e := range info.RTPHeaderExtensions {
		switch e.URI {
		case MidURI:
			midID = uint8(e.ID)
		case RIDURI:
			ridID = uint8(e.ID)
		}
	}
	if ids.rid == "" {
		ridID = 0
	}
	if midID == 0 && ridID == 0 {
		return w
	}
	st := &stampStream{w: w, ssrc: info.SSRC, midID: midID, ridID: ridID, mid: []byte(ids.mid), rid: []byte(ids.rid)}
	return interceptor.RTPWriterFunc(st.write)
}

// stampStream adds the extensions to one stream's packets.
type stampStream struct {
	w            interceptor.RTPWriter
	ssrc         uint32
	midID, ridID uint8
	mid, rid     []byte

	mu      sync.Mutex      // guards scratch: a track may be written from several goroutines
	scratch []rtp.Extension // reused extension list, so stamping allocates nothing per packet
}

func (s *stampStream) write(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	if h.SSRC != s.ssrc {
		return s.w.Write(h, payload, a)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The header's extension list may be the caller's; stamp a private copy of it and restore
	// the caller's afterwards. Everything below copies what it keeps (the NACK responder
	// clones, SRTP marshals), so the scratch list is free again once Write returns.
	orig, origExt, origProfile := h.Extensions, h.Extension, h.ExtensionProfile
	h.Extensions = append(s.scratch[:0], orig...)
	// Errors here only mean an id outside the one-byte range, which the media engine never
	// assigns; the packet then goes unstamped rather than not at all.
	if s.midID != 0 {
		_ = h.SetExtension(s.midID, s.mid)
	}
	if s.ridID != 0 {
		_ = h.SetExtension(s.ridID, s.rid)
	}
	n, err := s.w.Write(h, payload, a)
	s.scratch = h.Extensions[:0]
	h.Extensions, h.Extension, h.ExtensionProfile = orig, origExt, origProfile
	return n, err
}
