package loadtest

import "errors"

var (
	// ErrBadConfig: a Config value is out of range or missing.
	ErrBadConfig = errors.New("loadtest: bad configuration")
	// ErrNoParticipant: no participant could join; the run was abandoned.
	ErrNoParticipant = errors.New("loadtest: no participant could join")
	// ErrAllDisconnected: every participant was disconnected before the run ended.
	ErrAllDisconnected = errors.New("loadtest: every participant was disconnected")
)
