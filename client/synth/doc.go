// Package synth makes synthetic media shaped like the real thing, for tests, the load tester and
// bots: VP8 video (RFC 7741 payload descriptors, keyframes several times larger than delta
// frames, simulcast layers sharing one capture clock) and Opus-shaped audio at 50 packets per
// second carrying an RFC 6464 audio level.
//
// Every frame (and every audio packet) carries a small header right after the codec's own
// header: a magic, the frame number, the send time in unix nanoseconds and the frame length,
// protected by a CRC. The rest of the frame is a pattern derived from the frame number. A
// receiver can therefore measure end-to-end latency from the first packet of a frame, and prove
// that a reassembled frame arrived byte for byte intact (see VerifyFrame and Assembler).
//
// The pure parts (VP8Stream, OpusStream, the descriptor and header codecs) own no goroutines and
// take the time as an argument; the Source types drive them from a ticker on a goroutine they
// own, started by Start and stopped (and waited for) by Stop.
package synth
