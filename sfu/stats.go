package sfu

import "github.com/cascade-sfu/cascade/router"

// Counts is how much a node holds right now.
type Counts struct {
	Rooms           int
	Participants    int
	PublishedTracks int // tracks whose media has arrived
}

// VisitReceivers calls visit for the receiver of every published track on the node and
// returns the node's counts. It reads the lock-free snapshots the forwarding path uses (and
// each participant's track list under its info lock), never waiting on an operations queue,
// so a metrics scrape cannot stall behind a busy room. visit must not call into the SFU.
func (s *SFU) VisitReceivers(visit func(*router.Receiver)) Counts {
	var c Counts
	for _, r := range s.Rooms() {
		c.Rooms++
		for _, p := range r.snapshot() {
			c.Participants++
			for _, t := range p.publishedTracks() {
				if recv := t.recv(); recv != nil {
					c.PublishedTracks++
					visit(recv)
				}
			}
		}
	}
	return c
}
