package synth

// frameMeta is what a frameWindow and Push know of a partial frame, whatever the codec.
type frameMeta struct {
	ts                 uint32
	born               uint64 // frameWindow.born when the frame started
	haveStart, haveEnd bool
	startSeq, endSeq   uint16
}

// partialFrame is a codec's partial frame as a frameWindow keeps it.
type partialFrame interface {
	meta() *frameMeta
	// reset clears the frame for reuse, keeping its buffers.
	reset()
	// release drops what the frame holds once it is finished or abandoned.
	release()
}

// frameWindow is the reassembly bookkeeping Assembler and H264Assembler share: the partial
// frames being collected (by RTP timestamp), a pool of them to reuse, and a ring of recently
// finished timestamps so that late packets of a finished frame do not start a new one.
type frameWindow[F any, P interface {
	*F
	partialFrame
}] struct {
	pending []P
	free    []P
	done    [32]uint32 // timestamps of recently finished frames (ring)
	doneN   int
	born    uint64 // frames started so far
}

// lookup finds or starts the pending frame for ts. Starting one abandons frames begun
// maxPendingFrames frames ago (counting each in stats as incomplete): by then a receiver
// would have given up on them.
func (w *frameWindow[F, P]) lookup(ts uint32, stats *AssemblerStats) P {
	for _, pf := range w.pending {
		if pf.meta().ts == ts {
			return pf
		}
	}
	w.born++
	for i := 0; i < len(w.pending); {
		if w.born-w.pending[i].meta().born >= maxPendingFrames {
			stats.Incomplete++
			w.retire(w.pending[i])
			continue
		}
		i++
	}
	var pf P
	if n := len(w.free); n > 0 {
		pf, w.free = w.free[n-1], w.free[:n-1]
	} else {
		pf = P(new(F))
	}
	pf.reset()
	m := pf.meta()
	m.ts, m.born = ts, w.born
	w.pending = append(w.pending, pf)
	return pf
}

// flush abandons every partial frame, counting each in stats as incomplete.
func (w *frameWindow[F, P]) flush(stats *AssemblerStats) {
	for len(w.pending) > 0 {
		stats.Incomplete++
		w.retire(w.pending[0])
	}
}

// retire removes pf from the pending set, remembers its timestamp as finished and recycles it.
func (w *frameWindow[F, P]) retire(pf P) {
	for i, x := range w.pending {
		if x == pf {
			w.pending = append(w.pending[:i], w.pending[i+1:]...)
			break
		}
	}
	w.done[w.doneN%len(w.done)] = pf.meta().ts
	w.doneN++
	pf.release()
	w.free = append(w.free, pf)
}

// finished reports whether the frame with timestamp ts was recently finished or abandoned.
func (w *frameWindow[F, P]) finished(ts uint32) bool {
	n := min(w.doneN, len(w.done))
	for i := 0; i < n; i++ {
		if w.done[i] == ts {
			return true
		}
	}
	return false
}
