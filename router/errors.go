package router

import "errors"

var (
	// ErrClosed is returned when operating on a closed receiver or down track.
	ErrClosed = errors.New("router: closed")
	// ErrLayerExists is returned when a layer is added twice.
	ErrLayerExists = errors.New("router: layer already added")
	// ErrBadLayer is returned for a layer index out of range.
	ErrBadLayer = errors.New("router: layer out of range")
	// ErrCodecNotNegotiated is returned by Bind when the subscriber lacks the track's codec.
	ErrCodecNotNegotiated = errors.New("router: subscriber did not negotiate the track's codec")
)
