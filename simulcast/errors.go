package simulcast

import "errors"

var (
	// ErrVP8Truncated: a VP8 payload ends inside its payload descriptor.
	ErrVP8Truncated = errors.New("simulcast: VP8 payload descriptor truncated")
	// ErrShortBuffer: the output buffer cannot hold the rewritten payload.
	ErrShortBuffer = errors.New("simulcast: output buffer shorter than the payload")
	// ErrVP8Stale: a late packet belongs to a frame older than the rewriter remembers, so
	// it has no place in the subscriber's numbering; drop it.
	ErrVP8Stale = errors.New("simulcast: VP8 packet too old to place")
)
