// Package auth mints and verifies Cascade access tokens: JWTs signed HS256 with an API
// secret, whose issuer is the API key, whose subject is the participant identity, and whose
// "video" claim grants what the holder may do.
package auth

import (
	"github.com/golang-jwt/jwt/v5"
)

// VideoGrant is the "video" claim. Pointer booleans distinguish "absent" (which means
// allowed, for the participant capabilities) from an explicit false.
type VideoGrant struct {
	Room     string `json:"room,omitempty"`
	RoomJoin bool   `json:"roomJoin,omitempty"`

	// Admin capabilities, used by the control plane. RoomAdmin with an empty Room covers
	// every room.
	RoomCreate bool `json:"roomCreate,omitempty"`
	RoomList   bool `json:"roomList,omitempty"`
	RoomAdmin  bool `json:"roomAdmin,omitempty"`

	CanPublish     *bool `json:"canPublish,omitempty"`
	CanSubscribe   *bool `json:"canSubscribe,omitempty"`
	CanPublishData *bool `json:"canPublishData,omitempty"`
	// CanPublishSources limits publishing to these sources ("camera", "microphone",
	// "screen_share", "screen_share_audio"); empty means every source.
	CanPublishSources []string `json:"canPublishSources,omitempty"`
	Hidden            bool     `json:"hidden,omitempty"`
}

// Claims is the whole token payload.
type Claims struct {
	jwt.RegisteredClaims
	Name     string      `json:"name,omitempty"`
	Metadata string      `json:"metadata,omitempty"`
	Video    *VideoGrant `json:"video,omitempty"`
}

// Identity is the participant identity (the JWT subject).
func (c *Claims) Identity() string { return c.Subject }

// APIKey is the key that signed the token (the JWT issuer).
func (c *Claims) APIKey() string { return c.Issuer }

func allowed(p *bool) bool { return p == nil || *p }

// Bool returns a pointer to b, for filling the optional grant fields.
func Bool(b bool) *bool { return &b }

// Publish reports whether the grant allows publishing media.
func (g *VideoGrant) Publish() bool { return g != nil && allowed(g.CanPublish) }

// Subscribe reports whether the grant allows receiving media.
func (g *VideoGrant) Subscribe() bool { return g != nil && allowed(g.CanSubscribe) }

// PublishData reports whether the grant allows sending data messages.
func (g *VideoGrant) PublishData() bool { return g != nil && allowed(g.CanPublishData) }

// CanJoin reports whether the grant allows joining room.
func (g *VideoGrant) CanJoin(room string) bool {
	return g != nil && g.RoomJoin && g.Room != "" && g.Room == room
}

// SourceAllowed reports whether publishing from source (one of the names listed on
// CanPublishSources) is allowed.
func (g *VideoGrant) SourceAllowed(source string) bool {
	if !g.Publish() {
		return false
	}
	if len(g.CanPublishSources) == 0 {
		return true
	}
	for _, s := range g.CanPublishSources {
		if s == source {
			return true
		}
	}
	return false
}

// AdminOf reports whether the grant administers room ("" asks for every room).
func (g *VideoGrant) AdminOf(room string) bool {
	if g == nil || !g.RoomAdmin {
		return false
	}
	return g.Room == "" || g.Room == room
}
