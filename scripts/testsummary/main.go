// Command testsummary turns `go test -json` (on stdin) into a report people can read: one
// line per package as plain `go test` prints it, the whole output of every failed test, the
// skipped tests with their reasons, and a closing count. scripts/test.sh pipes into it.
//
// It exits 1 if anything failed (a test, a package, a build), 0 otherwise; the test script
// also checks go test's own exit code, so a fault here cannot hide a failure.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action      string
	Package     string
	Test        string
	Output      string
	Elapsed     float64
	ImportPath  string // build-output and build-fail events
	FailedBuild string
}

type line struct {
	test string // "" for package-level output
	text string
}

type pkgState struct {
	lines    []line
	status   map[string]string // test -> "pass", "fail", "skip"; running tests are absent
	started  map[string]bool
	passed   int
	failed   int
	skipped  int
	hadTests bool
}

type skip struct{ pkg, test, reason string }

type summary struct {
	out      io.Writer
	pkgs     map[string]*pkgState
	skips    []skip
	passed   int
	failed   int
	skipped  int
	pkgFails []string
	noTests  int
	pkgsOK   int
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, pkgs: map[string]*pkgState{}}
}

func (s *summary) pkg(name string) *pkgState {
	p := s.pkgs[name]
	if p == nil {
		p = &pkgState{status: map[string]string{}, started: map[string]bool{}}
		s.pkgs[name] = p
	}
	return p
}

func (s *summary) handle(e event) {
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output) // compiler errors: always worth seeing, as they come
		return
	case "build-fail":
		return // counted with the package's fail event
	}
	if e.Package == "" {
		return
	}
	p := s.pkg(e.Package)
	switch e.Action {
	case "run":
		p.started[e.Test] = true
		p.hadTests = true
	case "output":
		p.lines = append(p.lines, line{e.Test, e.Output})
	case "pass", "fail", "skip":
		if e.Test != "" {
			p.status[e.Test] = e.Action
			switch e.Action {
			case "pass":
				p.passed++
			case "fail":
				p.failed++
			case "skip":
				p.skipped++
				s.skips = append(s.skips, skip{e.Package, e.Test, skipReason(p.lines, e.Test)})
			}
			return
		}
		s.finishPackage(e)
	}
}

// failUnfinished counts as failed the tests that started but never reported: the test
// binary died under them (a timeout, a panic in another goroutine, os.Exit).
func (p *pkgState) failUnfinished() {
	for test := range p.started {
		if _, done := p.status[test]; !done {
			p.status[test] = "fail"
			p.failed++
		}
	}
}

// skipReason is what the test logged before skipping (usually the t.Skip message).
func skipReason(lines []line, test string) string {
	var parts []string
	for _, l := range lines {
		if l.test != test {
			continue
		}
		t := strings.TrimSpace(l.text)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

func (s *summary) finishPackage(e event) {
	p := s.pkg(e.Package)
	if e.Action == "fail" {
		p.failUnfinished()
	}
	s.passed += p.passed
	s.failed += p.failed
	s.skipped += p.skipped
	switch e.Action {
	case "pass":
		s.pkgsOK++
		counts := fmt.Sprintf("%d passed", p.passed)
		if p.skipped > 0 {
			counts += fmt.Sprintf(", %d skipped", p.skipped)
		}
		fmt.Fprintf(s.out, "ok  \t%s\t%.2fs\t(%s)\n", e.Package, e.Elapsed, counts)
	case "skip":
		s.noTests++ // "[no test files]"
	case "fail":
		s.pkgFails = append(s.pkgFails, e.Package)
		s.printFailure(e, p)
	}
	delete(s.pkgs, e.Package)
}

// printFailure prints, in the order go test wrote them, the lines of failed tests, of tests
// that never finished (a panic or timeout kills the binary mid-test), and of the package.
func (s *summary) printFailure(e event, p *pkgState) {
	for _, l := range p.lines {
		if l.test != "" {
			st, done := p.status[l.test]
			if done && st != "fail" {
				continue
			}
			if strings.HasPrefix(l.text, "=== ") {
				continue
			}
		}
		fmt.Fprint(s.out, l.text)
		if !strings.HasSuffix(l.text, "\n") {
			fmt.Fprintln(s.out)
		}
	}
	if !p.hadTests && len(p.lines) == 0 && e.FailedBuild == "" {
		fmt.Fprintf(s.out, "FAIL\t%s\n", e.Package)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// finish reports packages whose result never arrived (go test was killed) and the totals.
func (s *summary) finish() (failed bool) {
	for _, name := range sortedKeys(s.pkgs) {
		p := s.pkgs[name]
		p.failUnfinished()
		s.passed += p.passed
		s.failed += p.failed
		s.skipped += p.skipped
		s.pkgFails = append(s.pkgFails, name)
		fmt.Fprintf(s.out, "FAIL\t%s\t(no result: the test binary did not finish)\n", name)
		s.printFailure(event{Package: name}, p)
	}
	if len(s.skips) > 0 {
		fmt.Fprintf(s.out, "\nSkipped tests:\n")
		for _, sk := range s.skips {
			reason := sk.reason
			if reason == "" {
				reason = "(no reason given)"
			}
			fmt.Fprintf(s.out, "  %s %s: %s\n", sk.pkg, sk.test, reason)
		}
	}
	fmt.Fprintf(s.out, "\nPackages: %d ok, %d failed, %d without tests\n", s.pkgsOK, len(s.pkgFails), s.noTests)
	if len(s.pkgFails) > 0 {
		fmt.Fprintf(s.out, "Failed packages: %s\n", strings.Join(s.pkgFails, " "))
	}
	fmt.Fprintf(s.out, "Tests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return s.failed > 0 || len(s.pkgFails) > 0
}

func run(in io.Reader, out io.Writer) (failed bool) {
	s := newSummary(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		text := sc.Bytes()
		var e event
		if len(text) == 0 || text[0] != '{' || json.Unmarshal(text, &e) != nil {
			// Not an event (go test's own messages): pass it through.
			fmt.Fprintf(out, "%s\n", text)
			continue
		}
		s.handle(e)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testsummary: reading input: %v\n", err)
		failed = true
	}
	return s.finish() || failed
}

func main() {
	if run(os.Stdin, os.Stdout) {
		os.Exit(1)
	}
}
