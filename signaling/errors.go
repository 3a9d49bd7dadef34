package signaling

import (
	"errors"

	"github.com/cascade-sfu/cascade/auth"
	pb "github.com/cascade-sfu/cascade/proto/cascade/v1"
	"github.com/cascade-sfu/cascade/sfu"
)

// codeFor maps an error from the SFU or auth to its stable signaling code.
func codeFor(err error) pb.ErrorCode {
	switch {
	case errors.Is(err, auth.ErrTokenMissing):
		return pb.ErrorCode_ERROR_CODE_TOKEN_MISSING
	case errors.Is(err, auth.ErrTokenExpired):
		return pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED
	case errors.Is(err, auth.ErrTokenInvalid):
		return pb.ErrorCode_ERROR_CODE_TOKEN_INVALID
	case errors.Is(err, sfu.ErrRoomFull):
		return pb.ErrorCode_ERROR_CODE_ROOM_FULL
	case errors.Is(err, sfu.ErrPermissionDenied):
		return pb.ErrorCode_ERROR_CODE_PERMISSION_DENIED
	case errors.Is(err, sfu.ErrNoSupportedCodec):
		return pb.ErrorCode_ERROR_CODE_NO_SUPPORTED_CODEC
	case errors.Is(err, sfu.ErrBadSDP), errors.Is(err, sfu.ErrUnexpectedAnswer):
		return pb.ErrorCode_ERROR_CODE_BAD_SDP
	case errors.Is(err, sfu.ErrTrackNotFound):
		return pb.ErrorCode_ERROR_CODE_TRACK_NOT_FOUND
	case errors.Is(err, sfu.ErrNegotiationFailed):
		return pb.ErrorCode_ERROR_CODE_NEGOTIATION_FAILED
	case errors.Is(err, sfu.ErrInvalidArgument), errors.Is(err, sfu.ErrDuplicateTrackCID):
		return pb.ErrorCode_ERROR_CODE_INVALID_ARGUMENT
	}
	return pb.ErrorCode_ERROR_CODE_INTERNAL
}

func errorResponse(code pb.ErrorCode, request, msg string) *pb.SignalResponse {
	return &pb.SignalResponse{Message: &pb.SignalResponse_Error{Error: &pb.SignalError{Code: code, Message: msg, Request: request}}}
}
