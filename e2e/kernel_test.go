package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cascade-sfu/cascade/auth"
	"github.com/cascade-sfu/cascade/client"
	"github.com/cascade-sfu/cascade/node"
	"github.com/cascade-sfu/cascade/scenario"
)

// The real-kernel scenario: the SFU (with a publisher beside it) in one network namespace,
// a subscriber in another, a veth pair between them, and the kernel's token bucket (tc tbf)
// on the SFU's end shaping everything the subscriber receives. Both sides are this test
// binary run again inside its namespace (TestKernelHelper), so the media really crosses
// the kernel's queue. The rate goes 3 Mbit/s, 400 kbit/s, 3 Mbit/s (tc qdisc change); the
// subscriber's layer must follow it down to q and back up to f.

const (
	envKernelRole   = "CASCADE_KERNEL_ROLE" // sfu or sub: this process is a helper
	envKernelKey    = "CASCADE_KERNEL_KEY"
	envKernelSecret = "CASCADE_KERNEL_SECRET"
	envKernelURL    = "CASCADE_KERNEL_URL"
	// Addresses on the veth pair: TEST-NET-2 (RFC 5737), routed nowhere.
	kernelSFUAddr = "198.51.100.1"
	kernelSubAddr = "198.51.100.2"
	kernelQueue   = 200 * time.Millisecond // tbf latency, as the vnet links' queue
	kernelLine    = "KERNEL "              // prefix of the helpers' protocol lines
)

// kernelNet is the two namespaces and the veth pair.
type kernelNet struct {
	sfuNS, subNS   string
	sfuDev, subDev string
}

// TestKernelTBF runs the drop and restore through the real kernel's tbf.
func TestKernelTBF(t *testing.T) {
	if os.Getenv(envKernelRole) != "" {
		t.Skip("inside a kernel scenario helper")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping the real-kernel scenario: it needs root to create network namespaces, a veth pair and a tc qdisc")
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping the real-kernel scenario: %s (iproute2) not found", tool)
		}
	}
	k := setupKernelNet(t)

	b := make([]byte, 24)
	_, _ = rand.Read(b)
	env := []string{envKernelKey + "=KERNEL", envKernelSecret + "=" + hex.EncodeToString(b),
		envKernelURL + "=ws://" + kernelSFUAddr + ":7700/v1/signal"}
	sfu := startKernelHelper(t, k.sfuNS, "sfu", env)
	if _, err := sfu.next(30 * time.Second); err != nil {
		t.Fatalf("the SFU helper did not come up: %v\n%s", err, sfu.output())
	}
	sub := startKernelHelper(t, k.subNS, "sub", env)

	var seen []string
	// waitLayer reads the subscriber's reports until two in a row show layer.
	waitLayer := func(layer string, timeout time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		deadline := start.Add(timeout)
		run := 0
		for run < 2 {
			left := time.Until(deadline)
			if left <= 0 {
				t.Fatalf("the subscriber did not settle on %s within %v; reports: %s\nSFU helper:\n%s\nsubscriber helper:\n%s", layer, timeout,
					strings.Join(seen[max(0, len(seen)-40):], " "), sfu.output(), sub.output())
			}
			line, err := sub.next(left)
			if err != nil {
				t.Fatalf("subscriber helper: %v\n%s", err, sub.output())
			}
			var r kernelReport
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("subscriber report %q: %v", line, err)
			}
			seen = append(seen, fmt.Sprintf("%.1f:%s/%s/%s", r.T, orDash(r.Layer), r.State, kbpsOf(r.Estimate)))
			if r.Layer == layer {
				run++
			} else {
				run = 0
			}
		}
		return time.Since(start)
	}

	up := waitLayer("f", 30*time.Second)
	t.Logf("subscriber at f after %v through a 3 Mbit/s tbf", up.Round(10*time.Millisecond))
	k.setRate(t, scenario.LowRate)
	down := waitLayer("q", 20*time.Second)
	t.Logf("tbf at 400 kbit/s: subscriber at q after %v", down.Round(10*time.Millisecond))
	// It stays there while the link stays low.
	for hold := time.Now().Add(3 * time.Second); time.Now().Before(hold); {
		line, err := sub.next(5 * time.Second)
		if err != nil {
			t.Fatalf("subscriber helper: %v\n%s", err, sub.output())
		}
		var r kernelReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("subscriber report %q: %v", line, err)
		}
		seen = append(seen, fmt.Sprintf("%.1f:%s/%s/%s", r.T, orDash(r.Layer), r.State, kbpsOf(r.Estimate)))
		if r.Layer != "q" {
			t.Fatalf("at 400 kbit/s the subscriber left q: %s", strings.Join(seen, " "))
		}
	}
	k.setRate(t, scenario.HighRate)
	back := waitLayer("f", 30*time.Second)
	t.Logf("tbf back at 3 Mbit/s: subscriber at f again after %v", back.Round(10*time.Millisecond))
	t.Logf("subscriber reports (t:layer/state/estimate): %s", strings.Join(seen, " "))
	if out, err := exec.Command("ip", "netns", "exec", k.sfuNS, "tc", "-s", "qdisc", "show", "dev", k.sfuDev).CombinedOutput(); err == nil {
		t.Logf("tbf counters:\n%s", out)
	}
	sub.stop(t)
	sfu.stop(t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func kbpsOf(bps int) string { return strconv.Itoa((bps+500)/1000) + "k" }

// setupKernelNet creates the namespaces, the veth pair and the tbf, and removes them all
// when the test ends, however it ends. It skips the test when the kernel refuses.
func setupKernelNet(t *testing.T) *kernelNet {
	t.Helper()
	id := strconv.Itoa(os.Getpid() % 100000)
	k := &kernelNet{sfuNS: "csc" + id + "sfu", subNS: "csc" + id + "sub", sfuDev: "csc" + id + "a", subDev: "csc" + id + "b"}
	// Deleting a namespace deletes the veth end in it, and with it the pair and its qdisc;
	// the link is deleted by name too, in case it never left this namespace.
	t.Cleanup(func() {
		for _, args := range [][]string{{"netns", "del", k.sfuNS}, {"netns", "del", k.subNS}, {"link", "del", k.sfuDev}} {
			_ = exec.Command("ip", args...).Run()
		}
	})
	run := func(skippable bool, name string, args ...string) {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err == nil {
			return
		}
		msg := fmt.Sprintf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		if skippable {
			t.Skipf("skipping the real-kernel scenario: the kernel refused: %s", msg)
		}
		t.Fatal(msg)
	}
	run(true, "ip", "netns", "add", k.sfuNS)
	run(true, "ip", "netns", "add", k.subNS)
	run(true, "ip", "link", "add", k.sfuDev, "type", "veth", "peer", "name", k.subDev)
	run(false, "ip", "link", "set", k.sfuDev, "netns", k.sfuNS)
	run(false, "ip", "link", "set", k.subDev, "netns", k.subNS)
	for _, side := range []struct{ ns, dev, addr string }{{k.sfuNS, k.sfuDev, kernelSFUAddr}, {k.subNS, k.subDev, kernelSubAddr}} {
		run(false, "ip", "-n", side.ns, "addr", "add", side.addr+"/24", "dev", side.dev)
		run(false, "ip", "-n", side.ns, "link", "set", side.dev, "up")
		run(false, "ip", "-n", side.ns, "link", "set", "lo", "up")
	}
	run(true, "ip", append([]string{"netns", "exec", k.sfuNS, "tc", "qdisc", "add", "dev", k.sfuDev, "root"}, tbfArgs(scenario.HighRate)...)...)
	return k
}

// tbfArgs are the tbf parameters for a rate, the same bucket and queue as the vnet links.
func tbfArgs(bps int) []string {
	return []string{"tbf", "rate", strconv.Itoa(bps/1000) + "kbit", "burst", strconv.Itoa(scenario.BurstBytes(bps)),
		"latency", strconv.Itoa(int(kernelQueue/time.Millisecond)) + "ms"}
}

// setRate changes the tbf's rate in place (tc qdisc change).
func (k *kernelNet) setRate(t *testing.T, bps int) {
	t.Helper()
	args := append([]string{"netns", "exec", k.sfuNS, "tc", "qdisc", "change", "dev", k.sfuDev, "root"}, tbfArgs(bps)...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("tc qdisc change: %v: %s", err, out)
	}
}

// kernelHelper is this test binary running TestKernelHelper in a namespace.
type kernelHelper struct {
	role  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}

	mu  sync.Mutex // guards out
	out strings.Builder
}

func startKernelHelper(t *testing.T, ns, role string, env []string) *kernelHelper {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run", "^TestKernelHelper$",
		"-test.timeout", "150s")
	cmd.Env = append(append(os.Environ(), envKernelRole+"="+role), env...)
	// Its own process group, killed as a whole on cancel, and killed if we die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	h := &kernelHelper{role: role, cmd: cmd, lines: make(chan string, 256), done: make(chan struct{})}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	h.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{h: h}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s helper: %v", role, err)
	}
	go func() {
		defer close(h.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, kernelLine); ok {
				select {
				case h.lines <- rest:
				default: // nobody reads (the test is ending): keep the log only
				}
				continue
			}
			h.log(line + "\n")
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-h.done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-h.done
		}
		cancel()
	})
	return h
}

type lockedWriter struct{ h *kernelHelper }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.h.log(string(b))
	return len(b), nil
}

func (h *kernelHelper) log(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.out.Len() < 256<<10 {
		h.out.WriteString(s)
	}
}

func (h *kernelHelper) output() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.out.String()
}

// next returns the helper's next protocol line.
func (h *kernelHelper) next(timeout time.Duration) (string, error) {
	select {
	case l := <-h.lines:
		return l, nil
	case <-h.done:
		return "", fmt.Errorf("%s helper exited", h.role)
	case <-time.After(timeout):
		return "", fmt.Errorf("no report from the %s helper within %v", h.role, timeout)
	}
}

// stop asks the helper to finish (closing its stdin) and waits for it.
func (h *kernelHelper) stop(t *testing.T) {
	t.Helper()
	_ = h.stdin.Close()
	select {
	case <-h.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%s helper did not stop:\n%s", h.role, h.output())
	}
}

// kernelReport is one line the subscriber helper prints every 250 ms.
type kernelReport struct {
	T        float64 `json:"t"`
	Layer    string  `json:"layer"` // of the last frame in the interval
	Frames   int     `json:"frames"`
	State    string  `json:"state"`
	Target   string  `json:"target"`
	Estimate int     `json:"estimate"`
	Bps      int     `json:"bps"`
}

// TestKernelHelper is the SFU side or the subscriber side of TestKernelTBF, run by it
// inside a network namespace; on its own it skips.
func TestKernelHelper(t *testing.T) {
	role := os.Getenv(envKernelRole)
	if role == "" {
		t.Skip("helper process of TestKernelTBF: runs only inside its network namespaces")
	}
	// The parent closes stdin to end the helper; 2 minutes is the hard limit.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	key, secret, url := os.Getenv(envKernelKey), os.Getenv(envKernelSecret), os.Getenv(envKernelURL)
	token := func(identity string) string {
		tok, err := auth.Mint(key, secret, auth.TokenParams{Identity: identity, Name: identity,
			Grant: auth.VideoGrant{Room: "kernel", RoomJoin: true}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	join := func(identity string, opts ...client.Option) *client.Client {
		jctx, jcancel := context.WithTimeout(ctx, 20*time.Second)
		defer jcancel()
		c, err := client.Join(jctx, url, token(identity), append(opts, client.WithLogger(e2eLogger().With("side", identity)))...)
		if err != nil {
			t.Fatalf("%s: join: %v", identity, err)
		}
		return c
	}
	switch role {
	case "sfu":
		n, err := node.New(node.Config{Bind: kernelSFUAddr, HTTPPort: 7700, RTCPort: 7702, Keys: auth.Keys{key: secret}},
			e2eLogger().With("side", "sfu"))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		defer n.Close()
		pub := join("alice")
		defer pub.Close()
		cam, err := scenario.PublishCamera(pub, "alice", scenario.CameraOptions{Video: true, Audio: true})
		if err != nil {
			t.Fatal(err)
		}
		cam.Start()
		defer cam.Stop()
		fmt.Println(kernelLine + "ready")
		<-ctx.Done()
	case "sub":
		obs := scenario.NewObserver()
		c := join("bob")
		defer c.Close()
		obs.Attach(c)
		start := time.Now()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		prev := map[string]scenario.TrackCounters{}
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			r := kernelReport{T: time.Since(start).Seconds(), Estimate: int(c.BandwidthEstimate())}
			for _, tc := range obs.Counters() {
				p := prev[tc.TrackSID]
				prev[tc.TrackSID] = tc
				r.Bps += int(float64(tc.Bytes-p.Bytes) * 8 * 4)
				if !tc.Video {
					continue
				}
				r.Frames = int(tc.Frames - p.Frames)
				if r.Frames > 0 && tc.Layer >= 0 && int(tc.Layer) < 3 {
					r.Layer = []string{"q", "h", "f"}[tc.Layer]
				}
				if st := c.StreamState(tc.TrackSID); st != nil {
					r.State, r.Target = scenario.StateName(st.GetState()), st.GetTargetRid()
				}
			}
			b, _ := json.Marshal(r)
			fmt.Println(kernelLine + string(b))
		}
	default:
		t.Fatalf("unknown role %q", role)
	}
}
