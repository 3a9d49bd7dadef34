package client

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// group tracks the goroutines a client owns. Unlike a bare WaitGroup it refuses new work once
// closed, so a pion callback that fires during teardown cannot race Add against Wait.
type group struct {
	mu     sync.Mutex // guards closed and the WaitGroup's Add
	closed bool
	wg     sync.WaitGroup
}

// Go runs f on a tracked goroutine; it reports false (and runs nothing) once closed.
func (g *group) Go(f func()) bool {
	if !g.enter() {
		return false
	}
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// enter counts the calling goroutine (one started by pion) as tracked until it calls wg.Done.
func (g *group) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *group) exit() { g.wg.Done() }

// closeAndWait refuses new work and waits for what runs.
func (g *group) closeAndWait() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// eventQueue runs callbacks one at a time, in order, on one goroutine, so user code never runs
// under a client lock, never blocks the signaling read loop, and may call back into the client.
type eventQueue struct {
	mu     sync.Mutex // guards q and closed
	q      []func()
	closed bool
	wake   chan struct{} // capacity 1
	done   chan struct{} // closed when run returns
}

func newEventQueue() *eventQueue {
	return &eventQueue{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues f; it reports false once the queue is closed.
func (e *eventQueue) push(f func()) bool {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	e.q = append(e.q, f)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	return true
}

// close lets run finish what is queued and return.
func (e *eventQueue) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run executes queued callbacks until the queue is closed and empty. gids records the
// goroutine, so Close called from a callback knows not to wait for itself.
func (e *eventQueue) run(gids *sync.Map) {
	defer close(e.done)
	id := goroutineID()
	gids.Store(id, true)
	defer gids.Delete(id)
	for {
		e.mu.Lock()
		batch, closed := e.q, e.closed
		e.q = nil
		e.mu.Unlock()
		for _, f := range batch {
			f()
		}
		if len(batch) == 0 && closed {
			return
		}
		if len(batch) == 0 {
			<-e.wake
		}
	}
}

// goroutineID returns the current goroutine's id. Only Close uses it, to tell whether it runs
// inside one of the client's own callback goroutines (where waiting for them would deadlock).
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
