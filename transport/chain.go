package transport

import (
	"log/slog"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
)

// addSubscriberInterceptors registers what every RTP packet to a subscriber passes through:
// transport-wide sequence numbers and send times for bandwidth estimation (cc, added first
// so retransmissions get their own numbers), and sender reports. No NACK responder: the
// router answers NACKs from the publisher's ring.
func addSubscriberInterceptors(reg *interceptor.Registry, lf LoggerFactory, cc ...interceptor.Factory) error {
	for _, f := range cc {
		reg.Add(f)
	}
	sr, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(lf), report.SenderUseLatestPacket())
	if err != nil {
		return err
	}
	reg.Add(sr)
	return nil
}

// NewSubscriberInterceptor builds the interceptor chain of one subscriber connection, the
// one NewSubscriberPeerConnection installs, without a PeerConnection: the forwarding-cost
// benchmark (router/forward_bench_test.go) writes through it to its own SRTP session, so it
// measures what the node runs. fb may be nil.
func NewSubscriberInterceptor(fb FeedbackListener) (interceptor.Interceptor, CongestionControl, error) {
	ci := &congestionInterceptor{listener: fb}
	reg := &interceptor.Registry{}
	if err := addSubscriberInterceptors(reg, LoggerFactory{Logger: slog.New(slog.DiscardHandler)}, congestionFactory{ci}); err != nil {
		return nil, CongestionControl{}, err
	}
	i, err := reg.Build("")
	return i, CongestionControl{ci}, err
}
