package auth

import "errors"

// Sentinel errors returned (wrapped) by Verify. Edges map them to signaling codes or gRPC status.
var (
	ErrTokenMissing = errors.New("auth: token missing")
	ErrTokenInvalid = errors.New("auth: token invalid")
	ErrTokenExpired = errors.New("auth: token expired")
	ErrUnknownKey   = errors.New("auth: unknown API key")
	ErrNoIdentity   = errors.New("auth: token has no identity (sub)")
	ErrBadConfig    = errors.New("auth: bad key configuration")
)
