package sfu

import "sync"

// opQueue runs functions one at a time, in order, on its own goroutine. Push never blocks,
// so a room can hand work to a participant without waiting on it.
type opQueue struct {
	mu      sync.Mutex // guards ops and stopped
	ops     []func()
	stopped bool
	wake    chan struct{}
	done    chan struct{}
}

// newOpQueue starts a queue; first, if given, are its first operations (queued without
// taking the queue's lock, so a caller holding another lock may create a queue).
func newOpQueue(first ...func()) *opQueue {
	q := &opQueue{wake: make(chan struct{}, 1), done: make(chan struct{}), ops: first}
	go q.run()
	return q
}

// Push queues op; it reports false (and drops op) once the queue has stopped.
func (q *opQueue) Push(op func()) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.ops = append(q.ops, op)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// Do runs op on the queue and waits for it. It reports false if the queue has stopped.
// It must not be called from the queue's own goroutine.
func (q *opQueue) Do(op func()) bool {
	ran := make(chan struct{})
	if !q.Push(func() { op(); close(ran) }) {
		return false
	}
	select {
	case <-ran:
		return true
	case <-q.done:
		select {
		case <-ran:
			return true
		default:
			return false
		}
	}
}

// Stop makes the queue run what is queued and then exit; later pushes are dropped.
func (q *opQueue) Stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Done is closed when the goroutine has exited.
func (q *opQueue) Done() <-chan struct{} { return q.done }

func (q *opQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		ops := q.ops
		q.ops = nil
		stopped := q.stopped
		q.mu.Unlock()
		for _, op := range ops {
			op()
		}
		if len(ops) > 0 {
			continue
		}
		if stopped {
			return
		}
		<-q.wake
	}
}
