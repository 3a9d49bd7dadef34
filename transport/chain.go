package transport

import (
	"github.com/pion/interceptor"
)

// addSubscriberInterceptors registers what every RTP packet to a subscriber passes through:
// transport-wide sequence numbers and send times for bandwidth estimation (cc). Nothing
// else: the router answers NACKs from the publisher's ring, and the sfu sends sender
// reports from the down tracks' own counters (router.DownTrack.SenderReport), so no
// interceptor takes a lock or reads the clock per packet for them.
func addSubscriberInterceptors(reg *interceptor.Registry, cc ...interceptor.Factory) {
	for _, f := range cc {
		reg.Add(f)
	}
}

// NewSubscriberInterceptor builds the interceptor chain of one subscriber connection, the
// one NewSubscriberPeerConnection installs, without a PeerConnection: the forwarding-cost
// benchmark (router/forward_bench_test.go) writes through it to its own SRTP session, so it
// measures what the node runs when a connection's direct send path is not available. fb
// may be nil.
func NewSubscriberInterceptor(fb FeedbackListener) (interceptor.Interceptor, *SendPath, error) {
	sp := newSendPath(fb)
	reg := &interceptor.Registry{}
	addSubscriberInterceptors(reg, congestionFactory{sp.ci})
	i, err := reg.Build("")
	return i, sp, err
}
