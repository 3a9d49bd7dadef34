package router

import "sync"

// MaxPacketSize bounds one RTP packet after SRTP decryption.
const MaxPacketSize = 1500

type slot struct {
	buf    [MaxPacketSize]byte
	n      int
	extSeq uint64
	valid  bool
}

// ring stores the last packets of one received RTP stream, once, for every subscriber's
// retransmissions. The stream's read goroutine reads straight into a slot (no copy);
// other goroutines copy packets out under mu.
type ring struct {
	mu    sync.Mutex // guards n, extSeq, valid of every slot and bySeq
	slots []slot
	bySeq []int32 // extSeq % len -> slot index, -1 if none
	next  int     // next slot to write; touched only by the writer
	mask  uint64
}

func newRing(size int) *ring {
	// size is a power of two.
	r := &ring{slots: make([]slot, size), bySeq: make([]int32, size), mask: uint64(size - 1)}
	for i := range r.bySeq {
		r.bySeq[i] = -1
	}
	return r
}

// begin hands the writer the next slot's buffer, first withdrawing it from readers.
func (r *ring) begin() (idx int, buf []byte) {
	idx = r.next
	s := &r.slots[idx]
	r.mu.Lock()
	if s.valid {
		s.valid = false
		if r.bySeq[s.extSeq&r.mask] == int32(idx) {
			r.bySeq[s.extSeq&r.mask] = -1
		}
	}
	r.mu.Unlock()
	return idx, s.buf[:]
}

// commit publishes the slot written since begin.
func (r *ring) commit(idx, n int, extSeq uint64) {
	s := &r.slots[idx]
	r.mu.Lock()
	s.n = n
	s.extSeq = extSeq
	s.valid = true
	r.bySeq[extSeq&r.mask] = int32(idx)
	r.mu.Unlock()
	r.next = (idx + 1) & int(r.mask)
}

// get copies the packet with extSeq into dst and returns its length, or 0 if it is gone.
func (r *ring) get(extSeq uint64, dst []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.bySeq[extSeq&r.mask]
	if i < 0 {
		return 0
	}
	s := &r.slots[i]
	if !s.valid || s.extSeq != extSeq {
		return 0
	}
	return copy(dst, s.buf[:s.n])
}
