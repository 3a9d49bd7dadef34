package api

import (
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cascade-sfu/cascade/sfu"
)

// relistHint tells a watcher what to do when its cursor cannot be served.
const relistHint = "; re-list the room (GetRoom, ListParticipants), then call WatchEvents again without a cursor"

// codeOf maps the sfu package's sentinel errors to gRPC codes, most specific first.
var codeOf = []struct {
	err  error
	code codes.Code
}{
	{sfu.ErrInvalidArgument, codes.InvalidArgument},
	{sfu.ErrDuplicateTrackCID, codes.InvalidArgument},
	{sfu.ErrRoomNotFound, codes.NotFound},
	{sfu.ErrParticipantMissing, codes.NotFound},
	{sfu.ErrTrackNotFound, codes.NotFound},
	{sfu.ErrParticipantClosed, codes.NotFound},
	{sfu.ErrRoomClosed, codes.NotFound},
	{sfu.ErrRoomExists, codes.AlreadyExists},
	// The participant acted on lacks the permission; the caller's own rights were checked
	// already, so this is a state to change first, not a denial of the caller.
	{sfu.ErrPermissionDenied, codes.FailedPrecondition},
	{sfu.ErrRoomFull, codes.ResourceExhausted},
	{sfu.ErrReplayUnavailable, codes.OutOfRange},
	{sfu.ErrWatcherTooSlow, codes.ResourceExhausted},
	{sfu.ErrSFUClosed, codes.Unavailable},
}

// toStatus maps an error from the sfu package to a gRPC status whose message is the
// error's detail (the sentinel's own words are dropped when a detail follows them). Errors
// that already are a status pass through.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	msg := err.Error()
	code := codes.Internal
	for _, m := range codeOf {
		if errors.Is(err, m.err) {
			code = m.code
			if detail, ok := strings.CutPrefix(msg, m.err.Error()+": "); ok {
				msg = detail
			}
			switch m.err {
			case sfu.ErrReplayUnavailable:
				msg = "events to resume from are no longer retained: " + msg + relistHint
			case sfu.ErrWatcherTooSlow:
				msg = "the watch stream was ended because it stopped reading: " + msg +
					"; call WatchEvents again resuming after the last seq you processed"
			}
			break
		}
	}
	return status.Error(code, strings.TrimPrefix(msg, "sfu: "))
}
