// Package scenario runs network-condition scenarios against a Cascade SFU in process and
// measures how forwarding copes: the engine behind `sfu scenario` and the e2e
// network-condition suite.
//
// A run builds a pion vnet on TEST-NET-2 (nothing leaves the process), starts a node on it
// (media on the vnet, signaling on loopback), joins publishers on clean links, each sending
// a synthetic camera (3-layer VP8 simulcast with real payload descriptors and temporal
// layers, keyframes every few seconds and on PLI) and microphone (Opus), and subscribers
// behind links shaped by a token bucket (vnet.TBFQueue, the queue sized in time like tc
// tbf's latency), random loss and delay. It applies timed steps (rate, loss, preferred
// layer) and samples a timeline every 500 ms from what the subscribers actually receive —
// capacity, the SFU's estimate as reported to the subscriber, each track's state and target
// and current layer, the layer of the frames delivered, delivered bitrate, loss, frames —
// and what the publishers send.
//
// Every packet a subscriber receives is checked as a decoder would need it: frames are
// reassembled and verified byte for byte (client/synth), and the numbering of every
// forwarded VP8 packet — sequence numbers, timestamps, picture ids, TL0PICIDX — is checked
// for continuity across layer switches (CheckContinuity).
//
// The figures (Figures.SummaryLine) are about one focus subscription:
//
//	downgrade_ms=N recover_ms=N max_freeze_ms=N loss_pct=X estimate_error_pct=X
//
// Results are written as JSON (Result.WriteJSON) and as a hand-drawn SVG chart
// (Result.WriteSVG) of capacity vs estimate vs delivered and the layers over time.
package scenario
