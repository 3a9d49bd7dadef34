package synth

import "errors"

// Errors returned (wrapped) by the parsers and verifiers.
var (
	// ErrShortPacket: fewer bytes than the structure being parsed needs.
	ErrShortPacket = errors.New("synth: packet too short")
	// ErrNotSynthetic: the payload does not start with a synthetic frame header.
	ErrNotSynthetic = errors.New("synth: no synthetic frame header")
	// ErrHeaderChecksum: the synthetic header's CRC does not match its contents.
	ErrHeaderChecksum = errors.New("synth: frame header checksum mismatch")
	// ErrLength: the frame is shorter or longer than its header says.
	ErrLength = errors.New("synth: frame length mismatch")
	// ErrCorrupt: the frame body differs from the pattern its frame number implies.
	ErrCorrupt = errors.New("synth: frame body corrupt")
	// ErrNotStart: a VP8 payload that does not begin a frame was given where a frame start was needed.
	ErrNotStart = errors.New("synth: not the start of a VP8 frame")
	// ErrBadConfig: a configuration value is out of range.
	ErrBadConfig = errors.New("synth: bad configuration")
)
