package loadtest

// seqWindow is how many sequence numbers behind the highest a packet may arrive and still be
// told apart from a duplicate; older ones count as late.
const seqWindow = 1024

// seqTracker counts distinct packets of one RTP stream by sequence number, so loss is what
// is still missing after retransmissions (RFC 3550 appendix A.1 extends sequence numbers the
// same way; the bitmap dedupes retransmitted copies).
type seqTracker struct {
	started bool
	first   uint64 // extended sequence numbers
	highest uint64
	seen    [seqWindow / 64]uint64 // bit ext%seqWindow: received, for ext in (highest-seqWindow, highest]
	unique  uint64
	dups    uint64 // copies of packets already counted (retransmissions that crossed the original)
	late    uint64 // packets older than the window
}

// push records seq and reports whether the packet is new.
func (s *seqTracker) push(seq uint16) bool {
	if !s.started {
		s.started = true
		// Start high enough that packets reordered before the first stay positive.
		s.first = 1<<16 | uint64(seq)
		s.highest = s.first
		s.set(s.first)
		s.unique = 1
		return true
	}
	ext := uint64(int64(s.highest) + int64(int16(seq-uint16(s.highest))))
	switch {
	case ext > s.highest:
		if ext-s.highest >= seqWindow {
			clear(s.seen[:])
		} else {
			for e := s.highest + 1; e <= ext; e++ {
				s.clearBit(e)
			}
		}
		s.highest = ext
	case s.highest-ext >= seqWindow:
		s.late++
		return false
	case s.has(ext):
		s.dups++
		return false
	}
	s.set(ext)
	s.unique++
	if ext < s.first {
		s.first = ext
	}
	return true
}

func (s *seqTracker) set(e uint64)      { s.seen[(e%seqWindow)/64] |= 1 << (e % 64) }
func (s *seqTracker) clearBit(e uint64) { s.seen[(e%seqWindow)/64] &^= 1 << (e % 64) }
func (s *seqTracker) has(e uint64) bool { return s.seen[(e%seqWindow)/64]&(1<<(e%64)) != 0 }

// expected is how many packets the sender sent from the first to the highest seen.
func (s *seqTracker) expected() uint64 {
	if !s.started {
		return 0
	}
	return s.highest - s.first + 1
}

// lost is how many of those never arrived.
func (s *seqTracker) lost() uint64 {
	if e := s.expected(); e > s.unique {
		return e - s.unique
	}
	return 0
}
