package loadtest

import (
	"context"
	"errors"
	"time"
)

var errAborted = errors.New("loadtest: run aborted")

// pacer spaces joins to a rate (joins per second) and bounds how many are in flight. Only
// the goroutine that launches joins calls wait; done may be called from anywhere.
type pacer struct {
	interval time.Duration // 0: no rate, only the bound
	next     time.Time
	slots    chan struct{}
}

func newPacer(rate float64) *pacer {
	p := &pacer{slots: make(chan struct{}, maxConcurrentJoins)}
	if rate > 0 {
		p.interval = time.Duration(float64(time.Second) / rate)
		// At a given rate, joins may overlap more: a slow answer must not slow the ramp.
		p.slots = make(chan struct{}, 8*maxConcurrentJoins)
	}
	return p
}

// wait blocks until the next join may start; each successful wait needs a done.
func (p *pacer) wait(ctx context.Context, abort <-chan struct{}) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-abort:
		return errAborted
	}
	if p.interval == 0 {
		return nil
	}
	now := time.Now()
	if d := p.next.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			<-p.slots
			return ctx.Err()
		case <-abort:
			<-p.slots
			return errAborted
		}
		now = time.Now()
	}
	if p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(p.interval)
	return nil
}

// done frees the slot of a join that finished.
func (p *pacer) done() { <-p.slots }
