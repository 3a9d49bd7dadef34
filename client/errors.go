package client

import (
	"errors"
	"fmt"

	cascadev1 "github.com/cascade-sfu/cascade/proto/cascade/v1"
)

// Sentinel errors, wrapped with %w where they surface.
var (
	// ErrClosed: the client has left or been disconnected.
	ErrClosed = errors.New("client: closed")
	// ErrTimeout: a request got no answer in time.
	ErrTimeout = errors.New("client: timed out")
	// ErrProtocol: the server sent something the protocol does not allow here.
	ErrProtocol = errors.New("client: protocol violation")
	// ErrNotReady: the data channel for this kind is not open yet (see Client.WaitReady).
	ErrNotReady = errors.New("client: data channel not open")
	// ErrDataTooLarge: a data message over the 64 KiB limit.
	ErrDataTooLarge = errors.New("client: data message too large")
	// ErrMessageTooLarge: a signaling frame over the server's max_message_bytes.
	ErrMessageTooLarge = errors.New("client: signaling message too large")
	// ErrDuplicateTrack: a track with this id (cid) is already published or being published.
	ErrDuplicateTrack = errors.New("client: track id already published")
	// ErrBadTrack: the track (or set of simulcast tracks) cannot be published as given.
	ErrBadTrack = errors.New("client: bad track")
	// ErrInvalidArgument: a request the client refuses to send as given.
	ErrInvalidArgument = errors.New("client: invalid argument")
)

// SignalError is an error the server reported ({"error": ...}). Match it with errors.As, or
// test its code with ErrorCode.
type SignalError struct {
	Code    cascadev1.ErrorCode
	Message string
	Request string // the request it answers, e.g. "offer", "add_track"
}

func (e *SignalError) Error() string {
	if e.Request != "" {
		return fmt.Sprintf("cascade: %s (request %s): %s", e.Code, e.Request, e.Message)
	}
	return fmt.Sprintf("cascade: %s: %s", e.Code, e.Message)
}

// Is makes errors.Is(err, &SignalError{Code: c}) match any SignalError with code c.
func (e *SignalError) Is(target error) bool {
	t, ok := target.(*SignalError)
	return ok && t.Code == e.Code && t.Message == "" && t.Request == ""
}

func signalError(m *cascadev1.SignalError) *SignalError {
	return &SignalError{Code: m.GetCode(), Message: m.GetMessage(), Request: m.GetRequest()}
}

// ErrorCode returns the server's error code carried by err, or ERROR_CODE_UNSPECIFIED.
func ErrorCode(err error) cascadev1.ErrorCode {
	var se *SignalError
	if errors.As(err, &se) {
		return se.Code
	}
	return cascadev1.ErrorCode_ERROR_CODE_UNSPECIFIED
}

// DisconnectError says why a client's session ended.
type DisconnectError struct {
	Reason  cascadev1.LeaveReason
	Message string
	Err     error // the underlying failure, if any
}

func (e *DisconnectError) Error() string {
	s := "cascade: disconnected: " + e.Reason.String()
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *DisconnectError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrClosed}
	}
	return []error{ErrClosed, e.Err}
}
