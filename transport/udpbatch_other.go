//go:build !linux

package transport

// udpBatchSys is empty where there is no sendmmsg(2): every flush writes one datagram at a time.
type udpBatchSys struct{}

func (s *udpBatchSys) init(*udpBatch, int) {}

func (s *udpBatchSys) active() bool { return false }

// family is the socket's address family when the fast path is active; never here.
func (s *udpBatchSys) family() int { return 0 }

func (s *udpBatchSys) flush(b *udpBatch) (int, error) { return b.writeEach() }
