package transport

import (
	"sync"

	"github.com/pion/interceptor"
)

// lazyStart wraps one of pion's receive-side interceptors (NACK generator, receiver reports,
// transport-wide feedback), which start a periodic loop when a connection binds its RTCP
// writer, whether or not anything is ever received: ten to twenty wakeups a second per
// publisher connection, and every participant has one, publishing or not. The wrapper holds
// the writer back and starts the loop when the first remote stream is bound.
type lazyStart struct {
	interceptor.Interceptor
	mu     sync.Mutex
	writer interceptor.RTCPWriter // what the connection gave, not yet passed on
	once   sync.Once              // passes it on, before the first remote stream
}

// BindRTCPWriter keeps the writer for the first remote stream. The wrapped interceptors
// hand back the writer they are given, so it is returned as is.
func (l *lazyStart) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	l.mu.Lock()
	l.writer = w
	l.mu.Unlock()
	return w
}

// BindRemoteStream starts the wrapped interceptor's loop on the first stream, then binds.
// Concurrent first binds wait for the loop to start (sync.Once).
func (l *lazyStart) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	l.once.Do(func() {
		l.mu.Lock()
		w := l.writer
		l.mu.Unlock()
		if w != nil {
			l.Interceptor.BindRTCPWriter(w)
		}
	})
	return l.Interceptor.BindRemoteStream(info, r)
}

// lazyFactory builds lazyStart wrappers around f's interceptors.
type lazyFactory struct{ f interceptor.Factory }

func (l lazyFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := l.f.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return &lazyStart{Interceptor: i}, nil
}
