package simulcast

// slotState is what a sequence map or the VP8 rewriter remembers about one input packet or
// frame.
type slotState uint8

const (
	slotEmpty     slotState = iota
	slotReserved            // not seen yet (lost before the SFU, or still on the way); keeps its number
	slotForwarded           // sent with its number
	slotDropped             // dropped on purpose; took no number (or left a hole if it had one)
)

// seqMemory is how many input sequence numbers a seqMap remembers (a power of two): a
// packet arriving more than this many packets late is dropped.
const seqMemory = 256

type seqSlot struct {
	in, out uint64
	state   slotState
}

// seqMap numbers the packets of one layer run for the subscriber. Packets dropped on
// purpose take no number, so the output stays contiguous and a decoder sees no loss that
// did not happen (RFC 3550 section 5.1: sequence numbers exist to detect loss). Packets
// lost before the SFU keep their number, so the subscriber can NACK them and a late
// arrival still fills its gap; a late packet maps to the number it was given, or was
// reserved for it, when it first could have gone out.
type seqMap struct {
	highest uint64 // highest input sequence number seen in the run
	delta   uint64 // output = input + delta (mod 2^64) for packets first seen from now on
	slots   [seqMemory]seqSlot
}

// rebase starts a run: input first becomes output out.
func (m *seqMap) rebase(first, out uint64) {
	m.highest = first - 1
	m.delta = out - first
	m.slots = [seqMemory]seqSlot{}
}

// nextOut is the output number the next new packet of the run would take: numbers below
// it are sent or held for packets still expected.
func (m *seqMap) nextOut() uint64 { return m.highest + m.delta + 1 }

// late reports whether in arrives after a newer packet of the run.
func (m *seqMap) late(in uint64) bool { return int64(in-m.highest) <= 0 }

// seqResult is a seqMap's verdict on one packet.
type seqResult uint8

const (
	seqSend seqResult = iota // send as out
	seqDrop                  // send nothing; no number is lost
	seqHole                  // send nothing; out stays a gap in the output
)

// mapSeq numbers input packet in, which the selector wants sent when fwd is set.
func (m *seqMap) mapSeq(in uint64, fwd bool) (out uint64, res seqResult) {
	if d := int64(in - m.highest); d > 0 {
		from := m.highest + 1
		if uint64(d) > seqMemory {
			from = in - (seqMemory - 1)
		}
		for x := from; x != in; x++ {
			m.slots[x%seqMemory] = seqSlot{in: x, out: x + m.delta, state: slotReserved}
		}
		m.highest = in
		out = in + m.delta
		if !fwd {
			m.slots[in%seqMemory] = seqSlot{in: in, out: out, state: slotDropped}
			m.delta-- // later packets close up over this one
			return 0, seqDrop
		}
		m.slots[in%seqMemory] = seqSlot{in: in, out: out, state: slotForwarded}
		return out, seqSend
	}
	if m.highest-in >= seqMemory {
		return 0, seqDrop
	}
	s := &m.slots[in%seqMemory]
	if s.state == slotEmpty || s.in != in {
		return 0, seqDrop
	}
	switch s.state {
	case slotForwarded: // a duplicate: same number again
		if fwd {
			return s.out, seqSend
		}
		return 0, seqDrop
	case slotReserved:
		if fwd {
			s.state = slotForwarded
			return s.out, seqSend
		}
		// Its number was given away before we knew it would be dropped.
		s.state = slotDropped
		return s.out, seqHole
	}
	return 0, seqDrop
}
