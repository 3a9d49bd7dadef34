package transport

import (
	"sync/atomic"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// countingInterceptor records how its RTCP writer was bound.
type countingInterceptor struct {
	interceptor.NoOp
	writerBinds atomic.Int32
	streamBinds atomic.Int32
	boundFirst  atomic.Bool // the writer was bound before the first stream
}

func (c *countingInterceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	c.writerBinds.Add(1)
	return w
}

func (c *countingInterceptor) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if c.streamBinds.Add(1) == 1 {
		c.boundFirst.Store(c.writerBinds.Load() == 1)
	}
	return r
}

// A publisher connection's receive-side loops start with its first received stream, once.
func TestLazyStartWaitsForTheFirstStream(t *testing.T) {
	inner := &countingInterceptor{}
	l := &lazyStart{Interceptor: inner}
	w := interceptor.RTCPWriterFunc(func([]rtcp.Packet, interceptor.Attributes) (int, error) { return 0, nil })
	l.BindRTCPWriter(w)
	if n := inner.writerBinds.Load(); n != 0 {
		t.Fatalf("the loop started with no stream (%d binds)", n)
	}
	done := make(chan struct{})
	for i := 0; i < 3; i++ {
		go func() {
			l.BindRemoteStream(&interceptor.StreamInfo{SSRC: 1}, nil)
			done <- struct{}{}
		}()
	}
	for i := 0; i < 3; i++ {
		<-done
	}
	if n := inner.writerBinds.Load(); n != 1 || !inner.boundFirst.Load() {
		t.Fatalf("writer bound %d times, before the first stream: %v", n, inner.boundFirst.Load())
	}
}
