#!/usr/bin/env bash
# The README's test command (`make test` runs it): go vet, then every test with the race
# detector, then (in a full run) the network-condition scenarios without it: they measure
# timing over a virtual network, which the race detector's slowdown would distort. Needs
# only Go (and a C compiler for -race); modules come from the module proxy.
#
# Output: one line per package, the full output of failed tests, the skipped tests with
# their reasons, and a closing count. Set TEST_VERBOSE=1 for go test's raw output instead.
# Extra arguments go to go test (e.g. scripts/test.sh -run TestToken ./cmd/...).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
# Arguments go to go test; ./... unless one of them names packages.
args=("$@")
pkgs=(./...)
for a in "$@"; do
	case "$a" in
	./* | github.com/*) pkgs=() ;;
	esac
done
args+=(${pkgs[@]+"${pkgs[@]}"})

race=(-race)
if [ "$("$GO" env CGO_ENABLED)" != 1 ]; then
	echo "warning: no C compiler, so no race detector (install gcc to test with -race)" >&2
	race=()
fi

echo "== go vet ./..."
"$GO" vet ./...

echo "== go test ${race[*]-} -count=1 ${args[*]}"
if [ "${TEST_VERBOSE:-}" = 1 ]; then
	"$GO" test ${race[@]+"${race[@]}"} -count=1 -v "${args[@]}"
	exit
fi

# The summary tool is built before the tests run; if it cannot be built, fall back to go
# test's plain output rather than lose the test run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$GO" build -o "$tmp/testsummary" ./scripts/testsummary; then
	echo "warning: cannot build scripts/testsummary; plain go test output follows" >&2
	"$GO" test ${race[@]+"${race[@]}"} -count=1 "${args[@]}"
	exit
fi

# run_summarized runs go test with -json through the summary and fails if either fails.
run_summarized() {
	set +e
	"$GO" test -count=1 -json "$@" 2>&1 | "$tmp/testsummary"
	local codes=("${PIPESTATUS[@]}")
	set -e
	if [ "${codes[0]}" != 0 ] || [ "${codes[1]}" != 0 ]; then
		if [ "${codes[1]}" = 0 ]; then
			echo "FAIL: go test exited ${codes[0]} (see its messages above)"
		fi
		exit 1
	fi
}

run_summarized ${race[@]+"${race[@]}"} "${args[@]}"

# The scenarios skip themselves under -race; in a full run with it, run them now without.
if [ $# = 0 ] && [ ${#race[@]} != 0 ]; then
	scenarios='^(TestDropRestore|TestTwoTracksPriority|TestLayerSwitchesUnderLoss)$'
	echo "== go test -count=1 -run '$scenarios' ./e2e/"
	run_summarized -run "$scenarios" ./e2e/
fi
