package e2e

// Browser end-to-end test: two headless Chromium pages with fake camera and microphone join
// one room through the demo page (web/static) of a real in-process node, see and hear each
// other, and chat over the reliable data channel.
//
// Chromium pairs with the SFU's loopback candidates only when loopback is the only network
// it has (elsewhere it offers the machine's other addresses and ICE never connects), so the
// test runs in a network namespace that has nothing else: it re-executes its own test binary under `unshare -n` (or `unshare -rn` for
// users other than root); see inLoopbackNetns.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The test as a whole must stay well under this.
const browserTestBudget = 90 * time.Second

func TestBrowserCall(t *testing.T) {
	chromium := findChromium(t)
	if !inLoopbackNetns(t) {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), browserTestBudget)
	defer cancel()

	start := time.Now()
	addr := startBrowserNode(t)
	room := "e2e-" + browserRandomHex(4)
	pageURL := func(name string) string {
		return fmt.Sprintf("http://%s/?%s", addr, url.Values{"room": {room}, "name": {name}}.Encode())
	}

	alice := openBrowserPage(t, chromium, "alice")
	bob := openBrowserPage(t, chromium, "bob")
	var wg sync.WaitGroup
	for _, p := range []*browserPage{alice, bob} {
		wg.Go(func() { p.navigate(t, pageURL(p.name)) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, p := range []*browserPage{alice, bob} {
		p.waitJoined(ctx, t)
	}
	t.Logf("both pages joined room %s (%s)", room, time.Since(start).Round(time.Millisecond))

	// Each page must decode the other's video and receive its audio.
	wg.Go(func() { alice.waitMediaFrom(ctx, t, bob) })
	wg.Go(func() { bob.waitMediaFrom(ctx, t, alice) })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("media flows both ways (%s)", time.Since(start).Round(time.Millisecond))

	// Chromium answers the subscriber offer as DTLS client, so its media takes the direct
	// send path and its RTCP is read off the socket.
	metric := scrapeMetrics(t, addr)
	if d, p := metric("cascade_direct_sent_packets_total"), metric("cascade_pion_path_connections_total"); d < 1 || p != 0 {
		t.Fatalf("direct send path: %v packets sent, %v connections on pion's path", d, p)
	}
	if r := metric("cascade_subscriber_rtcp_packets_total"); r < 1 {
		t.Fatalf("no subscriber RTCP read off the socket (%v)", r)
	}

	// Chat over the reliable data channel, attributed to the sender's name.
	const text = "hello bob, this is alice"
	if _, err := alice.eval(fmt.Sprintf(`window.cascadeDemo.sendChat(%q)`, text), true); err != nil {
		alice.fail(t, "sendChat: %v", err)
	}
	t.Logf("alice sent a chat message (%s)", time.Since(start).Round(time.Millisecond))
	check := fmt.Sprintf(`window.cascadeDemo.chatLog.some(m => m.text === %q && m.from === %q)`, text, alice.name)
	if !bob.pollTrue(ctx, check, 10*time.Second) {
		log, _ := runInPage(bob, chromedp.Evaluate[string](`JSON.stringify(window.cascadeDemo.chatLog)`))
		bob.fail(t, "chat message from alice never arrived; bob's chatLog: %s", log)
	}
	t.Logf("bob received alice's chat message (%s)", time.Since(start).Round(time.Millisecond))

	// Alice mutes her microphone with the page's button; bob learns it through trackMuted.
	if _, err := alice.eval(`(document.getElementById('btn-mic').click(), true)`, false); err != nil {
		alice.fail(t, "click mute: %v", err)
	}
	mutedCheck := fmt.Sprintf(`[...window.cascadeDemo.room.participants.values()].some(p => p.name === %q &&
		[...p.tracks.values()].some(t => t.source === 'TRACK_SOURCE_MICROPHONE' && t.muted))`, alice.name)
	if !bob.pollTrue(ctx, mutedCheck, 10*time.Second) {
		bob.fail(t, "never saw alice's microphone muted")
	}
	t.Logf("bob saw alice's microphone muted (%s)", time.Since(start).Round(time.Millisecond))

	// Alice leaves; bob's page drops her.
	if _, err := alice.eval(`(document.getElementById('btn-leave').click(), true)`, false); err != nil {
		alice.fail(t, "click leave: %v", err)
	}
	if !alice.pollTrue(ctx, `window.cascadeDemo.state === 'left'`, 10*time.Second) {
		alice.fail(t, "did not leave")
	}
	goneCheck := fmt.Sprintf(`![...window.cascadeDemo.room.participants.values()].some(p => p.name === %q) &&
		document.querySelectorAll('#grid .tile').length === 1`, alice.name)
	if !bob.pollTrue(ctx, goneCheck, 10*time.Second) {
		bob.fail(t, "alice still present after leaving")
	}
	t.Logf("mute and leave reached bob (%s)", time.Since(start).Round(time.Millisecond))
}

// browserPage is one browser (its own process and profile) showing the demo page.
type browserPage struct {
	name string
	ctx  context.Context
	log  *browserOutput
}

// openBrowserPage starts a headless Chromium with fake media devices. Cleanup closes it and
// removes its profile.
func openBrowserPage(t *testing.T, chromium, name string) *browserPage {
	t.Helper()
	profile := t.TempDir() // removed after the browser exits: cleanups run last-in first-out
	lg := &browserOutput{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(lg),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		if t.Failed() {
			t.Logf("%s: chromium output (tail, without dbus and ALSA noise):\n%s", name, lg.tail(40))
		}
	})
	// The first action starts the browser; it must run on a context without a deadline,
	// which would otherwise bound the browser's life.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("%s: start chromium: %v\n%s", name, err, lg.tail(40))
	}
	p := &browserPage{name: name, ctx: ctx, log: lg}
	consoleCtx, stopConsole := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(consoleCtx) {
			if err != nil {
				return
			}
			lg.add(fmt.Sprintf("console %s", m))
		}
	}()
	t.Cleanup(func() {
		stopConsole()
		<-done
		if t.Failed() {
			t.Logf("%s: page console:\n%s", name, lg.console())
		}
	})
	return p
}

func (p *browserPage) navigate(t *testing.T, u string) {
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		p.fail(t, "navigate to %s: %v", u, err)
	}
}

// fail reports an error with what the page knows about itself.
func (p *browserPage) fail(t *testing.T, format string, args ...any) {
	t.Helper()
	diag, err := runInPage(p, chromedp.Evaluate[string](`JSON.stringify({
		state: window.cascadeDemo && window.cascadeDemo.state,
		errors: window.cascadeDemo && window.cascadeDemo.errors,
		room: window.cascadeDemo && window.cascadeDemo.room && {
			state: window.cascadeDemo.room.state,
			participants: [...window.cascadeDemo.room.participants.values()].map(p => ({
				sid: p.sid, name: p.name, tracks: [...p.tracks.values()].map(t => ({sid: t.sid, kind: t.kind, subscribed: !!t.track})),
			})),
			local: window.cascadeDemo.room.localParticipant && [...window.cascadeDemo.room.localParticipant.tracks.keys()],
		},
	})`))
	if err != nil {
		diag = "(page state unavailable: " + err.Error() + ")"
	}
	t.Errorf("%s: %s\n  page state: %s", p.name, fmt.Sprintf(format, args...), diag)
}

// runInPage runs one action on the page's tab, bounded to a few seconds.
func runInPage[T any](p *browserPage, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// eval evaluates a boolean expression in the page, awaiting it if it is a promise.
func (p *browserPage) eval(expr string, await bool) (bool, error) {
	var opts []chromedp.EvaluateOption
	if await {
		opts = append(opts, chromedp.EvalAwaitPromise)
	}
	return runInPage(p, chromedp.Evaluate[bool](expr, opts...))
}

// pollTrue evaluates expr (a value or a promise) until it is truthy or d passes.
func (p *browserPage) pollTrue(ctx context.Context, expr string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		ok, err := p.eval(`Promise.resolve(`+expr+`).then(v => !!v)`, true)
		if err == nil && ok {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return false
}

func (p *browserPage) waitJoined(ctx context.Context, t *testing.T) {
	t.Helper()
	if !p.pollTrue(ctx, `window.cascadeDemo && window.cascadeDemo.state === 'joined'`, 20*time.Second) {
		p.fail(t, "never joined the room")
		t.FailNow()
	}
}

// browserRemoteStat is the part of cascadeDemo.stats().remote the test reads.
type browserRemoteStat struct {
	Name            string  `json:"name"`
	Identity        string  `json:"identity"`
	TrackSid        string  `json:"trackSid"`
	Kind            string  `json:"kind"`
	Codec           string  `json:"codec"`
	PacketsReceived int64   `json:"packetsReceived"`
	FramesDecoded   int64   `json:"framesDecoded"`
	Width           int     `json:"width"`
	Height          int     `json:"height"`
	Samples         int64   `json:"totalSamplesReceived"`
	Bitrate         float64 `json:"bitrate"`
}

// waitMediaFrom polls the page's stats until video from the named participant is being
// decoded (framesDecoded rising) and their audio is arriving (packetsReceived rising).
func (p *browserPage) waitMediaFrom(ctx context.Context, t *testing.T, sender *browserPage) {
	from := sender.name
	const need = 10 // frames or packets beyond the first sample, to prove flow and not a burst
	deadline := time.Now().Add(30 * time.Second)
	first := map[string]int64{}
	var last []browserRemoteStat
	videoOK, audioOK := false, false
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for !(videoOK && audioOK) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			deadline = time.Now()
			continue
		case <-tick.C:
		}
		stats, err := runInPage(p, chromedp.Evaluate[[]browserRemoteStat](
			`window.cascadeDemo.stats().then(s => s.remote)`, chromedp.EvalAwaitPromise))
		if err != nil {
			continue
		}
		last = stats
		for _, s := range stats {
			if s.Name != from && !strings.HasPrefix(s.Identity, from) {
				continue
			}
			switch s.Kind {
			case "video":
				base, seen := first[s.TrackSid]
				if !seen {
					first[s.TrackSid] = s.FramesDecoded
				} else if s.FramesDecoded >= base+need && s.Width > 0 && !videoOK {
					videoOK = true
					t.Logf("%s: decoding %s's video: %s %dx%d, %d frames", p.name, from, s.Codec, s.Width, s.Height, s.FramesDecoded)
				}
			case "audio":
				base, seen := first[s.TrackSid]
				if !seen {
					first[s.TrackSid] = s.PacketsReceived
				} else if s.PacketsReceived >= base+need && !audioOK {
					audioOK = true
					t.Logf("%s: receiving %s's audio: %s, %d packets, %d samples", p.name, from, s.Codec, s.PacketsReceived, s.Samples)
				}
			}
		}
	}
	if !videoOK || !audioOK {
		sent, _ := runInPage(sender, chromedp.Evaluate[string](`window.cascadeDemo.stats().then(s => JSON.stringify(s.local))`, chromedp.EvalAwaitPromise))
		p.fail(t, "media from %s not flowing (video %v, audio %v); last stats: %+v\n  %s sends: %s", from, videoOK, audioOK, last, from, sent)
	}
}

// browserOutput keeps the browser's output and the page console, for failure reports.
type browserOutput struct {
	mu    sync.Mutex // guards the fields below
	lines []string   // browser process output
	cons  []string   // page console
	part  string
}

func (l *browserOutput) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.part + string(b)
	parts := strings.Split(s, "\n")
	l.part = parts[len(parts)-1]
	for _, line := range parts[:len(parts)-1] {
		if !chromiumNoise(line) {
			l.lines = append(l.lines, line)
		}
	}
	if len(l.lines) > 2000 {
		l.lines = l.lines[len(l.lines)-1000:]
	}
	return len(b), nil
}

// chromiumNoise reports lines a headless Chromium in a bare namespace always prints: no
// D-Bus, no sound card, no mDNS.
func chromiumNoise(line string) bool {
	for _, s := range []string{"dbus", "ALSA lib", "alsa_util", "mdns_responder", "dev-shm", "/dev/shm", "unexpected operator"} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func (l *browserOutput) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cons = append(l.cons, line)
}

func (l *browserOutput) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (l *browserOutput) console() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.cons, "\n")
}

func browserRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
