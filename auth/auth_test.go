package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cascade-sfu/cascade/auth"
)

const (
	testKey    = "APIkey1"
	testSecret = "0123456789abcdef0123456789abcdef" // exactly auth.MinSecretLen bytes
	otherKey   = "APIkey2"
	otherSec   = "ffffffffffffffffffffffffffffffffffff"
)

func newVerifier(t *testing.T) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.Keys{testKey: testSecret, otherKey: otherSec})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func mint(t *testing.T, key, secret string, p auth.TokenParams) string {
	t.Helper()
	tok, err := auth.Mint(key, secret, p)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	return tok
}

// signRaw signs arbitrary claims HS256 with secret, bypassing Mint's checks, so the verifier
// can be shown tokens Mint would never produce.
func signRaw(t *testing.T, secret string, claims jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return tok
}

// handmade builds "header.payload.signature" from JSON objects, for headers no honest signer
// would write.
func handmade(header, payload map[string]any, sig string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(payload) + "." + sig
}

func TestMintVerifyRoundTrip(t *testing.T) {
	v := newVerifier(t)
	tests := []struct {
		name   string
		key    string
		secret string
		params auth.TokenParams
	}{
		{
			name:   "participant with defaults",
			key:    testKey,
			secret: testSecret,
			params: auth.TokenParams{
				Identity: "alice",
				Grant:    auth.VideoGrant{Room: "r1", RoomJoin: true},
			},
		},
		{
			name:   "name, metadata, restricted grant",
			key:    testKey,
			secret: testSecret,
			params: auth.TokenParams{
				Identity: "bob",
				Name:     "Bob B.",
				Metadata: `{"role":"viewer"}`,
				TTL:      time.Minute,
				Grant: auth.VideoGrant{
					Room: "r2", RoomJoin: true,
					CanPublish:        auth.Bool(false),
					CanPublishData:    auth.Bool(false),
					CanSubscribe:      auth.Bool(true),
					CanPublishSources: []string{"camera"},
					Hidden:            true,
				},
			},
		},
		{
			name:   "second key",
			key:    otherKey,
			secret: otherSec,
			params: auth.TokenParams{Identity: "carol", Grant: auth.VideoGrant{Room: "r3", RoomJoin: true}},
		},
		{
			name:   "admin without identity",
			key:    testKey,
			secret: testSecret,
			params: auth.TokenParams{Grant: auth.VideoGrant{RoomAdmin: true, RoomList: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().Truncate(time.Second)
			tok := mint(t, tc.key, tc.secret, tc.params)
			c, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Identity() != tc.params.Identity {
				t.Errorf("identity = %q, want %q", c.Identity(), tc.params.Identity)
			}
			if c.APIKey() != tc.key {
				t.Errorf("api key = %q, want %q", c.APIKey(), tc.key)
			}
			if c.Name != tc.params.Name || c.Metadata != tc.params.Metadata {
				t.Errorf("name/metadata = %q/%q, want %q/%q", c.Name, c.Metadata, tc.params.Name, tc.params.Metadata)
			}
			if c.Video == nil {
				t.Fatal("video grant missing")
			}
			g, want := c.Video, tc.params.Grant
			if g.Room != want.Room || g.RoomJoin != want.RoomJoin || g.RoomAdmin != want.RoomAdmin ||
				g.RoomList != want.RoomList || g.Hidden != want.Hidden {
				t.Errorf("grant = %+v, want %+v", *g, want)
			}
			if g.Publish() != want.Publish() || g.Subscribe() != want.Subscribe() || g.PublishData() != want.PublishData() {
				t.Errorf("capabilities = %v/%v/%v, want %v/%v/%v",
					g.Publish(), g.Subscribe(), g.PublishData(), want.Publish(), want.Subscribe(), want.PublishData())
			}
			if strings.Join(g.CanPublishSources, ",") != strings.Join(want.CanPublishSources, ",") {
				t.Errorf("sources = %v, want %v", g.CanPublishSources, want.CanPublishSources)
			}
			ttl := tc.params.TTL
			if ttl == 0 {
				ttl = 6 * time.Hour
			}
			if c.ExpiresAt == nil || c.IssuedAt == nil {
				t.Fatal("exp or iat missing")
			}
			if got := c.ExpiresAt.Sub(c.IssuedAt.Time); got != ttl {
				t.Errorf("exp - iat = %v, want %v", got, ttl)
			}
			if c.IssuedAt.Before(before) {
				t.Errorf("iat %v before mint time %v", c.IssuedAt, before)
			}
		})
	}
}

// TestGrantAbsentVsFalseOnWire checks that an absent capability stays absent in the token
// (meaning allowed) and an explicit false survives the JSON round trip.
func TestGrantAbsentVsFalseOnWire(t *testing.T) {
	v := newVerifier(t)
	tok := mint(t, testKey, testSecret, auth.TokenParams{
		Identity: "a",
		Grant:    auth.VideoGrant{Room: "r", RoomJoin: true, CanPublish: auth.Bool(false)},
	})
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Video map[string]any `json:"video"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		t.Fatal(err)
	}
	if got, ok := raw.Video["canPublish"]; !ok || got != false {
		t.Errorf("canPublish on the wire = %v (present %v), want explicit false", got, ok)
	}
	for _, k := range []string{"canSubscribe", "canPublishData"} {
		if _, ok := raw.Video[k]; ok {
			t.Errorf("%s present on the wire, want absent", k)
		}
	}
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Video.Publish() || !c.Video.Subscribe() || !c.Video.PublishData() {
		t.Errorf("publish/subscribe/data = %v/%v/%v, want false/true/true",
			c.Video.Publish(), c.Video.Subscribe(), c.Video.PublishData())
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Now()
	valid := func(t *testing.T) string {
		return mint(t, testKey, testSecret, auth.TokenParams{
			Identity: "alice", TTL: time.Hour, Grant: auth.VideoGrant{Room: "r", RoomJoin: true},
		})
	}
	tests := []struct {
		name  string
		token func(t *testing.T) string
		clock time.Time // zero: real time
		want  []error   // every one must match with errors.Is
	}{
		{
			name:  "empty",
			token: func(*testing.T) string { return "" },
			want:  []error{auth.ErrTokenMissing},
		},
		{
			name:  "expired",
			token: valid,
			clock: now.Add(time.Hour + time.Minute),
			want:  []error{auth.ErrTokenExpired},
		},
		{
			name:  "not valid yet",
			token: valid,
			clock: now.Add(-time.Minute),
			want:  []error{auth.ErrTokenInvalid},
		},
		{
			name: "wrong secret",
			token: func(t *testing.T) string {
				return mint(t, testKey, strings.Repeat("x", auth.MinSecretLen), auth.TokenParams{
					Identity: "alice", Grant: auth.VideoGrant{Room: "r", RoomJoin: true},
				})
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "secret of another key",
			token: func(t *testing.T) string {
				return mint(t, testKey, otherSec, auth.TokenParams{
					Identity: "alice", Grant: auth.VideoGrant{Room: "r", RoomJoin: true},
				})
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "unknown key",
			token: func(t *testing.T) string {
				return mint(t, "nobody", testSecret, auth.TokenParams{
					Identity: "alice", Grant: auth.VideoGrant{Room: "r", RoomJoin: true},
				})
			},
			want: []error{auth.ErrTokenInvalid, auth.ErrUnknownKey},
		},
		{
			name: "expired and unknown key",
			token: func(t *testing.T) string {
				return mint(t, "nobody", testSecret, auth.TokenParams{Identity: "alice", TTL: time.Second})
			},
			clock: now.Add(time.Hour),
			want:  []error{auth.ErrTokenInvalid, auth.ErrUnknownKey},
		},
		{
			name: "alg none",
			token: func(*testing.T) string {
				return handmade(
					map[string]any{"alg": "none", "typ": "JWT"},
					map[string]any{"iss": testKey, "sub": "alice", "exp": now.Add(time.Hour).Unix()},
					"")
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "alg RS256",
			token: func(*testing.T) string {
				return handmade(
					map[string]any{"alg": "RS256", "typ": "JWT"},
					map[string]any{"iss": testKey, "sub": "alice", "exp": now.Add(time.Hour).Unix()},
					base64.RawURLEncoding.EncodeToString([]byte("not a signature")))
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "alg HS384 with the right secret",
			token: func(t *testing.T) string {
				tok, err := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.RegisteredClaims{
					Issuer: testKey, Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
				}).SignedString([]byte(testSecret))
				if err != nil {
					t.Fatal(err)
				}
				return tok
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "unknown alg",
			token: func(*testing.T) string {
				return handmade(map[string]any{"alg": "XX999"}, map[string]any{"iss": testKey, "sub": "a"}, "c2ln")
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "missing sub",
			token: func(t *testing.T) string {
				return signRaw(t, testSecret, auth.Claims{
					RegisteredClaims: jwt.RegisteredClaims{Issuer: testKey, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
					Video:            &auth.VideoGrant{Room: "r", RoomJoin: true},
				})
			},
			want: []error{auth.ErrTokenInvalid, auth.ErrNoIdentity},
		},
		{
			name: "missing sub and no grant",
			token: func(t *testing.T) string {
				return signRaw(t, testSecret, jwt.RegisteredClaims{
					Issuer: testKey, ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
				})
			},
			want: []error{auth.ErrTokenInvalid, auth.ErrNoIdentity},
		},
		{
			name: "missing exp",
			token: func(t *testing.T) string {
				return signRaw(t, testSecret, jwt.RegisteredClaims{Issuer: testKey, Subject: "alice"})
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "tampered payload",
			token: func(t *testing.T) string {
				parts := strings.Split(valid(t), ".")
				forged := handmade(map[string]any{"alg": "HS256", "typ": "JWT"},
					map[string]any{"iss": testKey, "sub": "mallory", "exp": now.Add(time.Hour).Unix(),
						"video": map[string]any{"room": "r", "roomJoin": true, "roomAdmin": true}}, "")
				return strings.Split(forged, ".")[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2]
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name:  "one segment",
			token: func(*testing.T) string { return "garbage" },
			want:  []error{auth.ErrTokenInvalid},
		},
		{
			name:  "two segments",
			token: func(*testing.T) string { return "a.b" },
			want:  []error{auth.ErrTokenInvalid},
		},
		{
			name:  "four segments",
			token: func(t *testing.T) string { return valid(t) + ".x" },
			want:  []error{auth.ErrTokenInvalid},
		},
		{
			name:  "empty segments",
			token: func(*testing.T) string { return ".." },
			want:  []error{auth.ErrTokenInvalid},
		},
		{
			name:  "bad base64",
			token: func(*testing.T) string { return "!!!.???.***" },
			want:  []error{auth.ErrTokenInvalid},
		},
		{
			name: "payload not JSON",
			token: func(*testing.T) string {
				h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
				p := base64.RawURLEncoding.EncodeToString([]byte(`not json`))
				return h + "." + p + ".c2ln"
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name: "claim of the wrong type",
			token: func(*testing.T) string {
				return handmade(map[string]any{"alg": "HS256"}, map[string]any{"iss": testKey, "sub": 42}, "c2ln")
			},
			want: []error{auth.ErrTokenInvalid},
		},
		{
			name:  "bearer prefix left on",
			token: func(t *testing.T) string { return "Bearer " + valid(t) },
			want:  []error{auth.ErrTokenInvalid},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t)
			if !tc.clock.IsZero() {
				v.SetClock(func() time.Time { return tc.clock })
			}
			c, err := v.Verify(tc.token(t))
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", c)
			}
			if c != nil {
				t.Errorf("Verify returned claims with an error: %+v", c)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error %q is not %q", err, w)
				}
			}
			// Expired is reported only for tokens that are otherwise good, so the edge can tell
			// the user to fetch a new token rather than fix their key.
			if tc.want[0] != auth.ErrTokenExpired && errors.Is(err, auth.ErrTokenExpired) {
				t.Errorf("error %q wrongly reports expiry", err)
			}
		})
	}
}

func TestVerifyClockEdges(t *testing.T) {
	v := newVerifier(t)
	start := time.Now()
	tok := mint(t, testKey, testSecret, auth.TokenParams{Identity: "a", TTL: time.Hour})
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"just minted", start, nil},
		{"just before expiry", start.Add(time.Hour - 2*time.Second), nil},
		{"inside leeway after expiry", start.Add(time.Hour + 2*time.Second), nil},
		{"past leeway", start.Add(time.Hour + 30*time.Second), auth.ErrTokenExpired},
		{"clock slightly behind the minter", start.Add(-10 * time.Second), nil},
		{"before nbf", start.Add(-time.Minute), auth.ErrTokenInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v.SetClock(func() time.Time { return tc.at })
			_, err := v.Verify(tok)
			if tc.want == nil && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMintRejects(t *testing.T) {
	short := strings.Repeat("s", auth.MinSecretLen-1)
	tests := []struct {
		name   string
		key    string
		secret string
		params auth.TokenParams
		want   error
	}{
		{"short secret", testKey, short, auth.TokenParams{Identity: "a"}, auth.ErrBadConfig},
		{"empty secret", testKey, "", auth.TokenParams{Identity: "a"}, auth.ErrBadConfig},
		{"empty key", "", testSecret, auth.TokenParams{Identity: "a"}, auth.ErrBadConfig},
		{"no identity", testKey, testSecret, auth.TokenParams{Grant: auth.VideoGrant{Room: "r", RoomJoin: true}}, auth.ErrNoIdentity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := auth.Mint(tc.key, tc.secret, tc.params)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Mint = %q, %v; want error %v", tok, err, tc.want)
			}
		})
	}
}

func TestNewVerifierRejects(t *testing.T) {
	tests := []struct {
		name string
		keys auth.Keys
	}{
		{"nil", nil},
		{"empty", auth.Keys{}},
		{"short secret", auth.Keys{testKey: strings.Repeat("s", auth.MinSecretLen-1)}},
		{"empty secret", auth.Keys{testKey: ""}},
		{"empty key", auth.Keys{"": testSecret}},
		{"one bad among good", auth.Keys{testKey: testSecret, otherKey: "short"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := auth.NewVerifier(tc.keys)
			if !errors.Is(err, auth.ErrBadConfig) {
				t.Fatalf("NewVerifier = %v, %v; want ErrBadConfig", v, err)
			}
		})
	}
}

func TestVerifierCopiesKeys(t *testing.T) {
	keys := auth.Keys{testKey: testSecret}
	v, err := auth.NewVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	keys[testKey] = otherSec
	keys[otherKey] = otherSec
	if _, err := v.Verify(mint(t, testKey, testSecret, auth.TokenParams{Identity: "a"})); err != nil {
		t.Errorf("token with the original secret: %v", err)
	}
	if _, err := v.Verify(mint(t, otherKey, otherSec, auth.TokenParams{Identity: "a"})); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("key added after NewVerifier: err = %v, want ErrUnknownKey", err)
	}
}

func TestRandomKeyPair(t *testing.T) {
	k1, s1, err := auth.RandomKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	k2, s2, err := auth.RandomKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 || s1 == s2 {
		t.Errorf("two pairs are equal: %s/%s", k1, k2)
	}
	if len(s1) < auth.MinSecretLen {
		t.Errorf("secret length %d < %d", len(s1), auth.MinSecretLen)
	}
	v, err := auth.NewVerifier(auth.Keys{k1: s1})
	if err != nil {
		t.Fatalf("random pair rejected: %v", err)
	}
	if _, err := v.Verify(mint(t, k1, s1, auth.TokenParams{Identity: "a"})); err != nil {
		t.Errorf("token from random pair: %v", err)
	}
}

func TestGrantCapabilities(t *testing.T) {
	tests := []struct {
		name                  string
		g                     *auth.VideoGrant
		publish, sub, pubData bool
	}{
		{"nil grant", nil, false, false, false},
		{"absent means allowed", &auth.VideoGrant{}, true, true, true},
		{"explicit true", &auth.VideoGrant{CanPublish: auth.Bool(true), CanSubscribe: auth.Bool(true), CanPublishData: auth.Bool(true)}, true, true, true},
		{"explicit false", &auth.VideoGrant{CanPublish: auth.Bool(false), CanSubscribe: auth.Bool(false), CanPublishData: auth.Bool(false)}, false, false, false},
		{"publish off only", &auth.VideoGrant{CanPublish: auth.Bool(false)}, false, true, true},
		{"subscribe off only", &auth.VideoGrant{CanSubscribe: auth.Bool(false)}, true, false, true},
		{"data off only", &auth.VideoGrant{CanPublishData: auth.Bool(false)}, true, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.Publish(); got != tc.publish {
				t.Errorf("Publish = %v, want %v", got, tc.publish)
			}
			if got := tc.g.Subscribe(); got != tc.sub {
				t.Errorf("Subscribe = %v, want %v", got, tc.sub)
			}
			if got := tc.g.PublishData(); got != tc.pubData {
				t.Errorf("PublishData = %v, want %v", got, tc.pubData)
			}
		})
	}
}

func TestGrantCanJoin(t *testing.T) {
	tests := []struct {
		name string
		g    *auth.VideoGrant
		room string
		want bool
	}{
		{"nil grant", nil, "r", false},
		{"join granted", &auth.VideoGrant{Room: "r", RoomJoin: true}, "r", true},
		{"other room", &auth.VideoGrant{Room: "r", RoomJoin: true}, "s", false},
		{"no join flag", &auth.VideoGrant{Room: "r"}, "r", false},
		{"no room named", &auth.VideoGrant{RoomJoin: true}, "r", false},
		{"empty room asked", &auth.VideoGrant{RoomJoin: true}, "", false},
		{"room names are case sensitive", &auth.VideoGrant{Room: "r", RoomJoin: true}, "R", false},
		{"admin is not join", &auth.VideoGrant{Room: "r", RoomAdmin: true}, "r", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.CanJoin(tc.room); got != tc.want {
				t.Errorf("CanJoin(%q) = %v, want %v", tc.room, got, tc.want)
			}
		})
	}
}

func TestGrantSourceAllowed(t *testing.T) {
	tests := []struct {
		name   string
		g      *auth.VideoGrant
		source string
		want   bool
	}{
		{"nil grant", nil, "camera", false},
		{"no list allows any", &auth.VideoGrant{}, "screen_share", true},
		{"listed", &auth.VideoGrant{CanPublishSources: []string{"camera", "microphone"}}, "microphone", true},
		{"not listed", &auth.VideoGrant{CanPublishSources: []string{"camera", "microphone"}}, "screen_share", false},
		{"publish off beats list", &auth.VideoGrant{CanPublish: auth.Bool(false), CanPublishSources: []string{"camera"}}, "camera", false},
		{"publish off, no list", &auth.VideoGrant{CanPublish: auth.Bool(false)}, "camera", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.SourceAllowed(tc.source); got != tc.want {
				t.Errorf("SourceAllowed(%q) = %v, want %v", tc.source, got, tc.want)
			}
		})
	}
}

func TestGrantAdminOf(t *testing.T) {
	tests := []struct {
		name string
		g    *auth.VideoGrant
		room string
		want bool
	}{
		{"nil grant", nil, "r", false},
		{"not admin", &auth.VideoGrant{Room: "r", RoomJoin: true}, "r", false},
		{"admin of its room", &auth.VideoGrant{Room: "r", RoomAdmin: true}, "r", true},
		{"admin of another room", &auth.VideoGrant{Room: "r", RoomAdmin: true}, "s", false},
		{"room admin asked for every room", &auth.VideoGrant{Room: "r", RoomAdmin: true}, "", false},
		{"global admin, some room", &auth.VideoGrant{RoomAdmin: true}, "s", true},
		{"global admin, every room", &auth.VideoGrant{RoomAdmin: true}, "", true},
		{"list and create are not admin", &auth.VideoGrant{RoomList: true, RoomCreate: true}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.AdminOf(tc.room); got != tc.want {
				t.Errorf("AdminOf(%q) = %v, want %v", tc.room, got, tc.want)
			}
		})
	}
}

func TestMintAt(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, err := auth.MintAt(testKey, testSecret, auth.TokenParams{Identity: "a", TTL: time.Hour}, at)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t)
	v.SetClock(func() time.Time { return at.Add(30 * time.Minute) })
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify at mint time + 30m: %v", err)
	}
	if !c.IssuedAt.Equal(at) || !c.ExpiresAt.Equal(at.Add(time.Hour)) {
		t.Errorf("iat/exp = %v/%v, want %v/%v", c.IssuedAt, c.ExpiresAt, at, at.Add(time.Hour))
	}
	v.SetClock(func() time.Time { return at.Add(2 * time.Hour) })
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrTokenExpired) {
		t.Errorf("Verify at mint time + 2h: err = %v, want ErrTokenExpired", err)
	}
	// With the real clock, a token minted in the past is checked against now.
	old, err := auth.MintAt(testKey, testSecret, auth.TokenParams{Identity: "a", TTL: time.Hour}, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newVerifier(t).Verify(old); !errors.Is(err, auth.ErrTokenExpired) {
		t.Errorf("token minted 2h ago with a 1h TTL: err = %v, want ErrTokenExpired", err)
	}
	if _, err := auth.MintAt(testKey, "short", auth.TokenParams{Identity: "a"}, at); !errors.Is(err, auth.ErrBadConfig) {
		t.Errorf("MintAt with a short secret: err = %v, want ErrBadConfig", err)
	}
}
