package sfu

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxNameLen bounds room names, identities, display names, track cids and names, and
// data topics, in bytes.
const maxNameLen = 256

// MaxNameBytes is the longest room name, identity or display name accepted, in bytes.
const MaxNameBytes = maxNameLen

// validateRoomName checks a room name: 1 to 256 bytes of printable UTF-8.
func validateRoomName(name string) error { return validateID("room name", name) }

// ValidateRoomName reports whether name is an acceptable room name (1 to 256 bytes of
// printable UTF-8), for edges that check a request before authorizing it.
func ValidateRoomName(name string) error { return validateRoomName(name) }

// validateID checks a name that identifies something (room, identity): 1 to 256 bytes of
// printable UTF-8.
func validateID(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrInvalidArgument, what)
	}
	return validateText(what, s, maxNameLen)
}

// validateText checks free text: valid UTF-8, at most max bytes, no control characters.
func validateText(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s is %d bytes; the limit is %d", ErrInvalidArgument, what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, what)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: %s contains control character %U", ErrInvalidArgument, what, r)
		}
	}
	return nil
}

// validateMetadata checks application metadata: valid UTF-8 of at most MaxMetadataBytes.
// Metadata is opaque (often JSON), so control characters such as newlines are allowed.
func (s *SFU) validateMetadata(what, md string) error {
	if len(md) > s.cfg.MaxMetadataBytes {
		return fmt.Errorf("%w: %s is %d bytes; the limit is %d", ErrInvalidArgument, what, len(md), s.cfg.MaxMetadataBytes)
	}
	if !utf8.ValidString(md) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, what)
	}
	return nil
}
