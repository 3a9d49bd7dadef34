package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/webrtc/v4"

	"github.com/cascade-sfu/cascade/client"
	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// maxConcurrentJoins bounds joins in flight when no ramp is given.
const maxConcurrentJoins = 8

// abortAfterFailures: when this many joins in a row fail and none ever succeeded, the node is
// unreachable or refuses the credentials, and the run stops at once.
const abortAfterFailures = 3

// run is one load test in progress.
type run struct {
	cfg   Config
	log   *slog.Logger
	rooms []string

	start    time.Time
	deadline time.Time

	mu          sync.Mutex // guards the fields below
	pubs        []*publisher
	subs        []*subscriber
	clients     []*client.Client
	errs        map[string]int // error message -> count
	errOrder    []string
	joinOK      int
	joinFail    int
	failStreak  int
	disconnects int
	live        int
	endReason   string

	allGone   chan struct{} // closed when every participant has been disconnected
	goneOnce  sync.Once
	abort     chan struct{} // closed when joins show the run cannot work
	abortOnce sync.Once
}

// Run runs a load test and returns its report. The report is returned (partial, with
// EndReason and Errors saying why) even when the run fails; the error then says what went
// wrong. Run returns by cfg.Duration plus cfg.Grace whatever the node does; canceling ctx
// ends the run early.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	r := &run{cfg: cfg, log: cfg.Logger, errs: map[string]int{}, allGone: make(chan struct{}), abort: make(chan struct{})}
	prefix := cfg.RoomPrefix
	if prefix == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		prefix = "loadtest-" + hex.EncodeToString(b)
	}
	for i := 0; i < cfg.Rooms; i++ {
		r.rooms = append(r.rooms, fmt.Sprintf("%s-%d", prefix, i))
	}
	r.start = time.Now()
	r.deadline = r.start.Add(cfg.Duration)
	runCtx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()

	obs := newObserver(r)
	obs.begin(runCtx)

	err := r.joinAll(runCtx, obs)
	if err == nil {
		select {
		case <-runCtx.Done():
		case <-r.allGone:
			err = fmt.Errorf("%w (%s)", ErrAllDisconnected, r.firstError())
		}
	}
	end := time.Now()
	switch {
	case err != nil:
	case ctx.Err() != nil:
		r.setEndReason("interrupted")
	}
	if err != nil {
		r.setEndReason(err.Error())
	}
	rep := obs.finish(end)
	r.teardown()
	return rep, err
}

// joinAll joins every room's publishers, then its subscribers, at the configured pace.
// Publishers go first so that subscribers' join times measure joining, not waiting for
// someone to publish.
func (r *run) joinAll(ctx context.Context, obs *observer) error {
	pace := newPacer(r.cfg.Ramp)
	var wg sync.WaitGroup
	launch := func(f func(context.Context)) bool {
		if err := pace.wait(ctx, r.abort); err != nil {
			return false
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pace.done()
			jctx, cancel := context.WithTimeout(ctx, r.cfg.JoinTimeout)
			defer cancel()
			f(jctx)
		}()
		return true
	}
	ok := true
	seq := 0 // publishers so far over all rooms: spreads keyframe phases and audio levels
	for _, room := range r.rooms {
		for i := 0; ok && i < r.cfg.Publishers; i++ {
			n := seq
			seq++
			ok = launch(func(c context.Context) { r.joinPublisher(c, room, publisherID(i), false, n) })
		}
		for i := 0; ok && i < r.cfg.AudioPublishers; i++ {
			n := seq
			seq++
			ok = launch(func(c context.Context) { r.joinPublisher(c, room, audioPublisherID(i), true, n) })
		}
	}
	wg.Wait()
	if err := r.joinVerdict(ctx); err != nil {
		return err
	}
	obs.publishersJoined(time.Now())
	for _, room := range r.rooms {
		for i := 0; ok && i < r.cfg.Subscribers; i++ {
			ok = launch(func(c context.Context) { r.joinSubscriber(c, room, subscriberID(i)) })
		}
	}
	wg.Wait()
	if err := r.joinVerdict(ctx); err != nil {
		return err
	}
	obs.joinsDone(time.Now())
	return nil
}

// joinVerdict says whether the run can go on after a phase of joins.
func (r *run) joinVerdict(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.abort:
		return fmt.Errorf("%w: %s", ErrNoParticipant, r.firstErrorLocked())
	default:
	}
	if r.joinOK == 0 && ctx.Err() == nil {
		return fmt.Errorf("%w: %s", ErrNoParticipant, r.firstErrorLocked())
	}
	return nil
}

// clientOptions are every participant's options; subscribers get the impairment.
func (r *run) clientOptions(name string, sub bool) []client.Option {
	opts := []client.Option{
		client.WithLogger(r.log.With("participant", name)),
		client.WithClientName("cascade-loadtest/1"),
		client.WithAutoSubscribe(false),
		client.WithRequestTimeout(r.cfg.JoinTimeout),
		client.WithIncludeLoopback(),
	}
	loopback := targetIsLoopback(r.cfg.URL)
	base, err := stdnet.NewNet()
	if err != nil {
		r.fail("network", err)
	}
	opts = append(opts, client.WithSettingEngine(func(role client.PCRole, se *webrtc.SettingEngine) {
		// IPv4 UDP only, and only loopback addresses against a node on this machine: fewer
		// sockets and candidates per connection, which matters with hundreds of them.
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		if loopback {
			se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
		}
		if base != nil {
			var impair Impairment
			if sub && role == client.Subscriber {
				impair = r.cfg.Impairment
			}
			se.SetNet(newClientNet(base, impair))
		}
	}))
	return append(opts, r.cfg.ClientOptions...)
}

// targetIsLoopback reports whether the node's URL names this machine's loopback.
func targetIsLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (r *run) join(ctx context.Context, room, id string, publish, sub bool) (*client.Client, error) {
	tok, err := r.cfg.Token(room, id, publish)
	if err != nil {
		return nil, fmt.Errorf("minting a token: %w", err)
	}
	c, err := client.Join(ctx, r.cfg.URL, tok, r.clientOptions(id, sub)...)
	if err != nil {
		return nil, explainJoin(r.cfg.URL, err)
	}
	return c, nil
}

func (r *run) joinPublisher(ctx context.Context, room, id string, audio bool, index int) {
	c, err := r.join(ctx, room, id, true, false)
	if err != nil {
		r.joinFailed(err)
		return
	}
	p := &publisher{id: id, c: c, audio: audio}
	if err := p.publish(ctx, &r.cfg, index); err != nil {
		p.stop()
		_ = c.Close()
		r.joinFailed(fmt.Errorf("%s: %w", id, err))
		return
	}
	r.joined(c, func() { r.pubs = append(r.pubs, p) })
}

func (r *run) joinSubscriber(ctx context.Context, room, id string) {
	c, err := r.join(ctx, room, id, false, true)
	if err != nil {
		r.joinFailed(err)
		return
	}
	s := newSubscriber(r, id, c)
	s.start()
	r.joined(c, func() { r.subs = append(r.subs, s) })
}

// joined registers a participant that joined; add records it under the run's lock.
func (r *run) joined(c *client.Client, add func()) {
	r.mu.Lock()
	r.joinOK++
	r.failStreak = 0
	r.live++
	r.clients = append(r.clients, c)
	add()
	r.mu.Unlock()
	c.OnDisconnected(func(e *client.DisconnectError) {
		if e != nil && e.Reason == cascadev1.LeaveReason_LEAVE_REASON_CLIENT_REQUEST {
			return // our own teardown
		}
		r.fail("disconnected", e)
		r.mu.Lock()
		r.disconnects++
		r.live--
		gone := r.live == 0
		r.mu.Unlock()
		if gone {
			r.goneOnce.Do(func() { close(r.allGone) })
		}
	})
}

func (r *run) joinFailed(err error) {
	r.fail("join", err)
	r.mu.Lock()
	r.joinFail++
	r.failStreak++
	abort := r.joinOK == 0 && r.failStreak >= abortAfterFailures
	r.mu.Unlock()
	if abort {
		r.abortOnce.Do(func() { close(r.abort) })
	}
}

// fail records an error by its message, so a thousand identical failures read as one line.
func (r *run) fail(what string, err error) {
	if err == nil {
		return
	}
	msg := what + ": " + err.Error()
	r.mu.Lock()
	if _, seen := r.errs[msg]; !seen {
		r.errOrder = append(r.errOrder, msg)
		r.log.Warn("load test", "what", what, "err", err)
	}
	r.errs[msg]++
	r.mu.Unlock()
}

func (r *run) firstError() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErrorLocked()
}

func (r *run) firstErrorLocked() string {
	if len(r.errOrder) == 0 {
		return "no error recorded"
	}
	return r.errOrder[0]
}

func (r *run) setEndReason(s string) {
	r.mu.Lock()
	if r.endReason == "" {
		r.endReason = s
	}
	r.mu.Unlock()
}

// teardown stops the sources and closes every client, giving up after the grace period
// (a client stuck in its transport is abandoned rather than holding the run).
func (r *run) teardown() {
	r.mu.Lock()
	pubs, subs, clients := r.pubs, r.subs, r.clients
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range pubs {
			p.stop()
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for _, c := range clients {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_ = c.Leave()
			}()
		}
		wg.Wait()
		for _, s := range subs {
			s.wg.Wait()
		}
	}()
	select {
	case <-done:
	case <-time.After(r.cfg.Grace):
		r.log.Warn("teardown did not finish within the grace period; abandoning", "grace", r.cfg.Grace)
	}
}

// explainJoin turns a join failure into a message that says what to check.
func explainJoin(u string, err error) error {
	var se *client.SignalError
	if errors.As(err, &se) {
		switch se.Code {
		case cascadev1.ErrorCode_ERROR_CODE_TOKEN_INVALID:
			return fmt.Errorf("the node rejected the access token (%s: %s): are --api-key and --api-secret the node's?", se.Code, se.Message)
		case cascadev1.ErrorCode_ERROR_CODE_TOKEN_EXPIRED:
			return fmt.Errorf("the node says the token expired (%s): is this machine's clock right?", se.Message)
		}
		return fmt.Errorf("the node refused the join: %w", err)
	}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &oe) && oe.Op == "dial":
		return fmt.Errorf("cannot reach the node at %s: %w", u, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("joining %s timed out: %w", u, err)
	case strings.Contains(err.Error(), "connection refused"), strings.Contains(err.Error(), "no such host"):
		return fmt.Errorf("cannot reach the node at %s: %w", u, err)
	}
	return fmt.Errorf("join %s: %w", u, err)
}

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
