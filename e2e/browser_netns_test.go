package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// envBrowserNetns marks a process already inside the loopback-only namespace.
	envBrowserNetns = "CASCADE_NETNS"
	// envRequireBrowser turns every reason to skip a browser test into a failure (CI).
	envRequireBrowser = "CASCADE_REQUIRE_BROWSER"
	// envBrowserChromium names the browser binary, if not the usual one.
	envBrowserChromium = "CASCADE_CHROMIUM"
)

// skipBrowserTest skips the test, or fails it when CASCADE_REQUIRE_BROWSER=1.
func skipBrowserTest(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv(envRequireBrowser) == "1" {
		t.Fatalf("browser test required ("+envRequireBrowser+"=1) but "+format, args...)
	}
	t.Skipf("skipping browser test: "+format, args...)
}

// findChromium returns the browser to drive, or skips.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envBrowserChromium); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			skipBrowserTest(t, "%s=%s is not executable: %v", envBrowserChromium, p, err)
		}
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipBrowserTest(t, "no Chromium found (apt-get install -y chromium, or set %s)", envBrowserChromium)
	return ""
}

// inLoopbackNetns reports whether the test runs in a network namespace with only loopback.
// When it does not, it runs this one test again in a fresh such namespace (its own test
// binary under `unshare -n`, with CASCADE_NETNS=1), streams that run's output into the
// test log, passes or fails (or skips) with it, and returns false: the caller then returns.
func inLoopbackNetns(t *testing.T) bool {
	t.Helper()
	if os.Getenv(envBrowserNetns) == "1" {
		return true
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		skipBrowserTest(t, "unshare (util-linux) not found; it is needed for a loopback-only network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skipBrowserTest(t, "ip (iproute2) not found; it is needed to bring up loopback in the namespace")
	}
	// Root makes a network namespace directly; anyone else may still get one inside a new
	// user namespace (-r), where Chromium runs fine with --no-sandbox.
	var nsFlags string
	var probeErrs []string
	for _, flags := range []string{"-n", "-rn"} {
		out, err := exec.Command(unshare, flags, "sh", "-c", "ip link set lo up").CombinedOutput()
		if err == nil {
			nsFlags = flags
			break
		}
		probeErrs = append(probeErrs, fmt.Sprintf("unshare %s: %v %s", flags, err, strings.TrimSpace(string(out))))
	}
	if nsFlags == "" {
		skipBrowserTest(t, "cannot create a network namespace with loopback up (run as root, or allow unprivileged user namespaces): %s",
			strings.Join(probeErrs, "; "))
	}

	ctx := t.Context()
	timeout := 3 * time.Minute
	if dl, ok := t.Deadline(); ok {
		timeout = time.Until(dl) - 10*time.Second
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-5*time.Second))
		defer cancel()
	}
	args := []string{nsFlags, "sh", "-c", `ip link set lo up && exec "$@"`, "sh",
		os.Args[0], "-test.run", "^" + regexp.QuoteMeta(t.Name()) + "$", "-test.v",
		"-test.timeout", timeout.Round(time.Second).String()}
	cmd := exec.CommandContext(ctx, unshare, args...)
	cmd.Env = append(os.Environ(), envBrowserNetns+"=1")
	// Kill the whole process group (the test binary and its browsers) on cancel, and the
	// child if this process dies first (unshare and sh exec, so the pid stays the same).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw

	t.Logf("re-running %s in a loopback-only network namespace", t.Name())
	if err := cmd.Start(); err != nil {
		skipBrowserTest(t, "cannot start %s: %v", unshare, err)
	}
	var skipped, passed bool
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			trimmed := strings.TrimSpace(line)
			skipped = skipped || strings.HasPrefix(trimmed, "--- SKIP: "+t.Name())
			passed = passed || strings.HasPrefix(trimmed, "--- PASS: "+t.Name())
			t.Log("netns│ " + line)
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	werr := cmd.Wait()
	_ = pw.Close()
	<-scanned
	switch {
	case werr != nil:
		t.Fatalf("%s failed in the loopback-only namespace: %v", t.Name(), werr)
	case skipped:
		t.Skip("skipped in the loopback-only namespace (see above)")
	case !passed:
		t.Fatalf("%s did not report a result in the loopback-only namespace", t.Name())
	}
	return false
}
