package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretLen is the shortest API secret accepted: HS256 wants at least 256 bits of key.
const MinSecretLen = 32

// TokenParams describes a token to mint.
type TokenParams struct {
	Identity string
	Name     string
	Metadata string
	TTL      time.Duration // default 6h
	Grant    VideoGrant
}

// Mint signs a token with the API key and secret.
func Mint(apiKey, apiSecret string, p TokenParams) (string, error) {
	return MintAt(apiKey, apiSecret, p, time.Now())
}

// MintAt signs a token as if issued at now (tests of expiry, clock skew).
func MintAt(apiKey, apiSecret string, p TokenParams, now time.Time) (string, error) {
	if apiKey == "" || len(apiSecret) < MinSecretLen {
		return "", fmt.Errorf("%w: API key must be set and secret at least %d bytes", ErrBadConfig, MinSecretLen)
	}
	if p.Identity == "" && !p.Grant.RoomAdmin && !p.Grant.RoomCreate && !p.Grant.RoomList {
		return "", ErrNoIdentity
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 6 * time.Hour
	}
	grant := p.Grant
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    apiKey,
			Subject:   p.Identity,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-10 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Name:     p.Name,
		Metadata: p.Metadata,
		Video:    &grant,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(apiSecret))
}

// Keys maps API keys to their secrets.
type Keys map[string]string

// Verifier checks tokens against a set of API keys.
type Verifier struct {
	keys   Keys
	leeway time.Duration
	now    func() time.Time
}

// NewVerifier returns a Verifier for keys. Every secret must be at least MinSecretLen bytes.
func NewVerifier(keys Keys) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no API keys", ErrBadConfig)
	}
	cp := make(Keys, len(keys))
	for k, s := range keys {
		if k == "" || len(s) < MinSecretLen {
			return nil, fmt.Errorf("%w: key %q: secret shorter than %d bytes", ErrBadConfig, k, MinSecretLen)
		}
		cp[k] = s
	}
	return &Verifier{keys: cp, leeway: 5 * time.Second, now: time.Now}, nil
}

// SetClock replaces the clock used for expiry checks (tests).
func (v *Verifier) SetClock(now func() time.Time) { v.now = now }

// Verify parses and checks a token: signature, algorithm, key, expiry and identity.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, ErrTokenMissing
	}
	var claims Claims
	var unknownKey bool
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(v.leeway),
		jwt.WithTimeFunc(v.now),
		jwt.WithExpirationRequired(),
	)
	_, err := parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		iss, _ := t.Claims.GetIssuer()
		secret, ok := v.keys[iss]
		if !ok {
			unknownKey = true
			return nil, ErrUnknownKey
		}
		return []byte(secret), nil
	})
	switch {
	case err == nil:
	case unknownKey:
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, ErrUnknownKey)
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, fmt.Errorf("%w: %v", ErrTokenExpired, err)
	default:
		return nil, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	if claims.Subject == "" && (claims.Video == nil || !(claims.Video.RoomAdmin || claims.Video.RoomCreate || claims.Video.RoomList)) {
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, ErrNoIdentity)
	}
	return &claims, nil
}

// RandomKeyPair makes a development API key and secret.
func RandomKeyPair() (key, secret string, err error) {
	b := make([]byte, 6+32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	return "DEV" + hex.EncodeToString(b[:6]), hex.EncodeToString(b[6:]), nil
}
