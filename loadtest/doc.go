// Package loadtest is Cascade's synthetic load tester. It joins rooms with publishers that send
// synthetic media shaped like a camera and a microphone (client/synth: VP8 or H.264, simulcast
// or single layer, Opus with audio levels) and subscribers that measure what a viewer would
// notice: join time, received bitrate per layer, loss after NACK repair, end-to-end latency,
// freezes, layer switches and keyframe requests. It reads the node's own CPU, memory and
// forwarding counters from /metrics when the node exposes them.
//
// It is a black box: it uses only the Go client SDK and the signaling protocol, as any client
// would, never the SFU's packages. A run always ends by its duration plus a bounded grace
// period, with a report of what was measured even when the SFU is unreachable, rejects the
// credentials or goes away mid-run.
package loadtest
