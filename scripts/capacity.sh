#!/usr/bin/env bash
# The end-to-end capacity run (`make bench-capacity`): build sfu, start one node on loopback,
# and sweep the load tester over rising subscriber counts until loss after NACK repair passes
# 1 % or latency p99 passes 100 ms. It prints one line per step and the knee: forwarded video
# streams and forwarded packets per second per CPU core of the node (from its own /metrics).
#
# Settings (environment): STEPS (subscribers per room, default 10,20,40,80,160),
# PUBLISHERS (default 4), DURATION per step (default 20s), SHAPE (extra loadtest flags,
# default "--simulcast --layout all --layer f"), JSON (report file, default $TMPDIR/cascade-capacity.json),
# PORT_BASE (default 17600: HTTP on it, gRPC on +1, RTC on +2), NODE_CPUS / LOADTEST_CPUS (taskset CPU
# lists, e.g. 0 and 1, to pin the node and the load tester to their own cores).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
STEPS=${STEPS:-10,20,40,80,160}
PUBLISHERS=${PUBLISHERS:-4}
DURATION=${DURATION:-20s}
SHAPE=${SHAPE:---simulcast --layout all --layer f}
JSON=${JSON:-${TMPDIR:-/tmp}/cascade-capacity.json}
PORT_BASE=${PORT_BASE:-17600}
KEY=CAPACITY
SECRET=capacity-secret-0123456789abcdef012345

tmp=$(mktemp -d)
node_pid=
cleanup() {
	if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

$GO build -o "$tmp/sfu" ./cmd/sfu
# pinned CPUS CMD...: CMD, prefixed with taskset when CPUS is set (into the array cmd).
pinned() {
	local cpus=$1
	shift
	cmd=("$@")
	if [ -n "$cpus" ] && command -v taskset >/dev/null; then cmd=(taskset -c "$cpus" "$@"); fi
}
pinned "${NODE_CPUS:-}" "$tmp/sfu" serve --bind 127.0.0.1 --include-loopback --log-level warn \
	--http-port "$PORT_BASE" --grpc-port $((PORT_BASE + 1)) --rtc-port $((PORT_BASE + 2))
CASCADE_API_KEY=$KEY CASCADE_API_SECRET=$SECRET "${cmd[@]}" >"$tmp/node.out" 2>"$tmp/node.err" &
node_pid=$! # the node itself (no subshell in between), so cleanup stops it
for _ in $(seq 50); do
	grep -q "running" "$tmp/node.out" 2>/dev/null && break
	sleep 0.1
done
# shellcheck disable=SC2086 # SHAPE is a list of flags
pinned "${LOADTEST_CPUS:-}" "$tmp/sfu" loadtest --url "ws://127.0.0.1:$PORT_BASE" --api-key $KEY --api-secret $SECRET \
	--publishers "$PUBLISHERS" --duration "$DURATION" --progress 0 --steps "$STEPS" --json "$JSON" $SHAPE
"${cmd[@]}"
echo "report: $JSON"
