package main

import (
	"strings"
	"testing"
)

// Input in the shape `go test -json` writes (Go 1.24+ reports builds as events too).
const sample = `{"ImportPath":"m/b [m/b.test]","Action":"build-output","Output":"# m/b [m/b.test]\n"}
{"ImportPath":"m/b [m/b.test]","Action":"build-output","Output":"b_test.go:4:33: undefined: nope\n"}
{"ImportPath":"m/b [m/b.test]","Action":"build-fail"}
go: downloading example.com/x v1.0.0
{"Action":"start","Package":"m"}
{"Action":"run","Package":"m","Test":"TestPass"}
{"Action":"output","Package":"m","Test":"TestPass","Output":"=== RUN   TestPass\n"}
{"Action":"output","Package":"m","Test":"TestPass","Output":"    a_test.go:3: chatter of a passing test\n"}
{"Action":"output","Package":"m","Test":"TestPass","Output":"--- PASS: TestPass (0.00s)\n"}
{"Action":"pass","Package":"m","Test":"TestPass"}
{"Action":"run","Package":"m","Test":"TestSkip"}
{"Action":"output","Package":"m","Test":"TestSkip","Output":"=== RUN   TestSkip\n"}
{"Action":"output","Package":"m","Test":"TestSkip","Output":"    a_test.go:4: no chromium installed\n"}
{"Action":"output","Package":"m","Test":"TestSkip","Output":"--- SKIP: TestSkip (0.00s)\n"}
{"Action":"skip","Package":"m","Test":"TestSkip"}
{"Action":"run","Package":"m","Test":"TestFail"}
{"Action":"run","Package":"m","Test":"TestFail/sub"}
{"Action":"output","Package":"m","Test":"TestFail/sub","Output":"=== RUN   TestFail/sub\n"}
{"Action":"output","Package":"m","Test":"TestFail/sub","Output":"    a_test.go:5: boom\n"}
{"Action":"output","Package":"m","Test":"TestFail/sub","Output":"--- FAIL: TestFail/sub (0.00s)\n"}
{"Action":"fail","Package":"m","Test":"TestFail/sub"}
{"Action":"run","Package":"m","Test":"TestFail/ok"}
{"Action":"output","Package":"m","Test":"TestFail/ok","Output":"--- PASS: TestFail/ok (0.00s)\n"}
{"Action":"pass","Package":"m","Test":"TestFail/ok"}
{"Action":"output","Package":"m","Test":"TestFail","Output":"--- FAIL: TestFail (0.00s)\n"}
{"Action":"fail","Package":"m","Test":"TestFail"}
{"Action":"output","Package":"m","Output":"FAIL\n"}
{"Action":"output","Package":"m","Output":"FAIL\tm\t0.004s\n"}
{"Action":"fail","Package":"m","Elapsed":0.005}
{"Action":"start","Package":"m/b"}
{"Action":"output","Package":"m/b","Output":"FAIL\tm/b [build failed]\n"}
{"Action":"fail","Package":"m/b","FailedBuild":"m/b [m/b.test]"}
{"Action":"start","Package":"m/c"}
{"Action":"output","Package":"m/c","Output":"?   \tm/c\t[no test files]\n"}
{"Action":"skip","Package":"m/c"}
{"Action":"start","Package":"m/ok"}
{"Action":"run","Package":"m/ok","Test":"TestA"}
{"Action":"pass","Package":"m/ok","Test":"TestA"}
{"Action":"run","Package":"m/ok","Test":"TestB"}
{"Action":"pass","Package":"m/ok","Test":"TestB"}
{"Action":"output","Package":"m/ok","Output":"ok  \tm/ok\t0.010s\n"}
{"Action":"pass","Package":"m/ok","Elapsed":0.01}
{"Action":"start","Package":"m/hang"}
{"Action":"run","Package":"m/hang","Test":"TestHang"}
{"Action":"output","Package":"m/hang","Test":"TestHang","Output":"=== RUN   TestHang\n"}
{"Action":"output","Package":"m/hang","Test":"TestHang","Output":"    hang_test.go:9: waiting\n"}
`

func TestSummary(t *testing.T) {
	var out strings.Builder
	failed := run(strings.NewReader(sample), &out)
	got := out.String()
	if !failed {
		t.Error("reported success for failing input")
	}
	wants := []string{
		"b_test.go:4:33: undefined: nope",               // compiler output
		"go: downloading example.com/x v1.0.0",          // non-JSON lines pass through
		"    a_test.go:5: boom\n--- FAIL: TestFail/sub", // failed test's output, in order
		"FAIL\tm\t0.004s",
		"FAIL\tm/b [build failed]",
		"ok  \tm/ok\t0.01s\t(2 passed)",
		"m TestSkip: a_test.go:4: no chromium installed",
		"FAIL\tm/hang\t(no result",
		"hang_test.go:9: waiting", // the unfinished test's output
		"Packages: 1 ok, 3 failed, 1 without tests",
		"Failed packages: m m/b m/hang",
		"\nTests: 4 passed, 3 failed, 1 skipped\n",
	}
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	for _, unwanted := range []string{"chatter of a passing test", "=== RUN", "TestFail/ok"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("output contains %q:\n%s", unwanted, got)
		}
	}
	if !strings.HasSuffix(got, "Tests: 4 passed, 3 failed, 1 skipped\n") {
		t.Errorf("the count is not the closing line:\n%s", got)
	}
}

func TestSummaryAllPass(t *testing.T) {
	in := `{"Action":"start","Package":"m"}
{"Action":"run","Package":"m","Test":"TestA"}
{"Action":"pass","Package":"m","Test":"TestA"}
{"Action":"pass","Package":"m","Elapsed":0.5}
`
	var out strings.Builder
	if run(strings.NewReader(in), &out) {
		t.Errorf("reported failure:\n%s", out.String())
	}
	if !strings.HasSuffix(out.String(), "Tests: 1 passed, 0 failed, 0 skipped\n") {
		t.Errorf("output:\n%s", out.String())
	}
}
