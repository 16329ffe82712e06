// Package token issues and verifies tgauth's JWTs: access and refresh
// tokens signed with HMAC-SHA256 under one secret.
package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Type tells access tokens from refresh tokens (the "typ" claim).
type Type string

// The token types.
const (
	Access  Type = "access"
	Refresh Type = "refresh"
)

// MinSecretLen is the shortest secret NewIssuer accepts, in bytes: the
// output size of SHA-256 (RFC 7518 §3.2).
const MinSecretLen = 32

// maxTokenLen bounds the work Parse does on garbage; our tokens are about
// 300 bytes.
const maxTokenLen = 4096

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid token")

// ErrExpired is wrapped, along with ErrInvalid, by the error Parse returns for
// a token that is valid but past its expiry, for callers that answer it
// differently (for example by asking the client to refresh).
var ErrExpired = errors.New("token expired")

// Claims are what tgauth puts in its tokens.
type Claims struct {
	UserID     int64  // "sub", as a decimal string in the JWT
	SessionID  string // "sid"
	Role       string // "role", omitted when empty
	Type       Type   // "typ"
	Generation int64  // "gen", refresh tokens only (omitted when 0)

	// IssuedAt and ExpiresAt ("iat", "exp") have whole-second precision in
	// the JWT; Parse returns them in UTC.
	IssuedAt, ExpiresAt time.Time
}

// jwtClaims is the JSON form of Claims.
type jwtClaims struct {
	jwt.RegisteredClaims
	SessionID  string `json:"sid"`
	Role       string `json:"role,omitempty"`
	Type       Type   `json:"typ"`
	Generation int64  `json:"gen,omitempty"`
}

// Issuer signs and verifies tokens. It is safe for concurrent use.
type Issuer struct {
	secret    []byte
	issuer    string
	now       func() time.Time
	validator *jwt.Validator
	macs      sync.Pool // of HMAC-SHA256 hashes keyed with secret

	// verified maps access tokens Parse accepted to their claims, so that
	// a client presenting the same token on every request costs a map
	// lookup and an expiry check, not a signature and a JSON decode.
	mu       sync.RWMutex
	verified map[string]Claims
}

// maxVerified bounds Issuer.verified (about 400 bytes an entry); past it
// an arbitrary entry makes room.
const maxVerified = 4096

// header is the first segment of every token Issue makes: the base64url
// of {"alg":"HS256","typ":"JWT"}. Parse accepts no other, which pins the
// algorithm (no "none", no alg confusion) before anything is decoded.
var header = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// segment decodes token segments: unpadded base64url, canonical only.
var segment = base64.RawURLEncoding.Strict()

// NewIssuer returns an Issuer signing with secret (at least MinSecretLen
// bytes, else an error), naming itself issuer ("iss", not empty), with now as
// its clock (time.Now if nil). The secret is copied.
//
// Expiry is checked with no leeway: every replica signs and verifies with
// clocks that NTP keeps within far less than a token's lifetime, and a token
// refused a second early costs one refresh.
func NewIssuer(secret []byte, issuer string, now func() time.Time) (*Issuer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("new token issuer: secret has %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	if issuer == "" {
		return nil, errors.New("new token issuer: empty issuer")
	}
	if now == nil {
		now = time.Now
	}
	i := &Issuer{secret: bytes.Clone(secret), issuer: issuer, now: now, verified: make(map[string]Claims)}
	i.validator = jwt.NewValidator(
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
	)
	i.macs.New = func() any { return hmac.New(sha256.New, i.secret) }
	return i, nil
}

// Issue signs c (IssuedAt and ExpiresAt are taken from c as given, truncated
// to whole seconds). It returns an error, and no token, for claims Parse
// would refuse: a UserID not above 0, an empty SessionID, a Type other than
// Access or Refresh, a Generation on an access token or below 0, a zero
// IssuedAt, or an ExpiresAt not after IssuedAt.
func (i *Issuer) Issue(c Claims) (string, error) {
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	jc := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   strconv.FormatInt(c.UserID, 10),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		SessionID:  c.SessionID,
		Role:       c.Role,
		Type:       c.Type,
		Generation: c.Generation,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jc).SignedString(i.secret)
	if err != nil {
		return "", fmt.Errorf("issue token: %w", err)
	}
	return s, nil
}

func (c Claims) validate() error {
	switch {
	case c.UserID <= 0:
		return errors.New("user id must be positive")
	case c.SessionID == "":
		return errors.New("empty session id")
	case c.Type != Access && c.Type != Refresh:
		return fmt.Errorf("unknown type %q", c.Type)
	case c.Generation < 0, c.Type == Access && c.Generation != 0:
		return errors.New("generation must be 0 on access tokens and not negative")
	case c.IssuedAt.IsZero():
		return errors.New("zero issued-at time")
	case !c.ExpiresAt.Truncate(time.Second).After(c.IssuedAt.Truncate(time.Second)):
		return errors.New("expiry must be after issued-at")
	}
	return nil
}

// Parse verifies a token of type want and returns its claims. It accepts
// only HS256 signed with the Issuer's secret, naming the Issuer as "iss",
// with "exp" present and after now, "iat" present, "sub" a positive decimal
// int64 in canonical form, "sid" not empty, and "typ" equal to want. Every
// failure returns an error wrapping ErrInvalid (and also ErrExpired for a
// genuine token past its expiry); the error text never contains the token.
func (i *Issuer) Parse(token string, want Type) (Claims, error) {
	// A token accepted before is the same token now: only its type and
	// expiry need checking again (a token past its expiry goes the long
	// way, to be refused as expired).
	i.mu.RLock()
	c, ok := i.verified[token]
	i.mu.RUnlock()
	if ok && c.Type == want && i.now().Before(c.ExpiresAt) {
		return c, nil
	}
	c, err := i.parse(token, want)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, ErrExpired)
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if want != Access {
		return c, nil // a refresh token is used once
	}
	i.mu.Lock()
	if len(i.verified) >= maxVerified {
		for k := range i.verified {
			delete(i.verified, k)
			break
		}
	}
	i.verified[token] = c
	i.mu.Unlock()
	return c, nil
}

func (i *Issuer) parse(token string, want Type) (Claims, error) {
	// The base64 decoder skips CR and LF, which would let one token have
	// many spellings; allow only the characters a JWT is made of.
	if len(token) > maxTokenLen {
		return Claims{}, errors.New("too long")
	}
	for j := 0; j < len(token); j++ {
		if !isTokenByte(token[j]) {
			return Claims{}, errors.New("unexpected character")
		}
	}
	// What jwt.Parser.ParseWithClaims does, with the header compared whole
	// instead of decoded into a map, and the HMAC computed on a pooled
	// keyed hash: half the time and allocations of the library's parse
	// (BenchmarkParse/signature), paid on a token's first use. The claims
	// are checked by the library's validator, as before.
	hdr, rest, _ := strings.Cut(token, ".")
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return Claims{}, errors.New("want 3 segments")
	}
	if hdr != header {
		return Claims{}, errors.New("header is not HS256 JWT")
	}
	if !i.validSignature(token[:len(hdr)+1+len(payload)], sig) {
		return Claims{}, jwt.ErrTokenSignatureInvalid
	}
	raw, err := segment.DecodeString(payload)
	if err != nil {
		return Claims{}, errors.New("payload is not base64url")
	}
	var jc jwtClaims
	if err := json.Unmarshal(raw, &jc); err != nil {
		return Claims{}, errors.New("payload is not a claims object")
	}
	if err := i.validator.Validate(jc); err != nil {
		return Claims{}, err
	}
	if jc.IssuedAt == nil {
		return Claims{}, errors.New("missing iat")
	}
	uid, err := strconv.ParseInt(jc.Subject, 10, 64)
	if err != nil || uid <= 0 || strconv.FormatInt(uid, 10) != jc.Subject {
		return Claims{}, errors.New("sub is not a positive decimal user id")
	}
	if jc.SessionID == "" {
		return Claims{}, errors.New("missing sid")
	}
	if jc.Type != want {
		return Claims{}, fmt.Errorf("typ is not %s", want)
	}
	if jc.Generation < 0 || jc.Type == Access && jc.Generation != 0 {
		return Claims{}, errors.New("bad gen")
	}
	return Claims{
		UserID:     uid,
		SessionID:  jc.SessionID,
		Role:       jc.Role,
		Type:       jc.Type,
		Generation: jc.Generation,
		IssuedAt:   jc.IssuedAt.UTC(),
		ExpiresAt:  jc.ExpiresAt.UTC(),
	}, nil
}

// validSignature reports whether sig is the canonical base64url of the
// HMAC-SHA256 of signed under the Issuer's secret, compared in constant time.
func (i *Issuer) validSignature(signed, sig string) bool {
	var want [sha256.Size]byte
	if segment.DecodedLen(len(sig)) != len(want) {
		return false
	}
	if n, err := segment.Decode(want[:], []byte(sig)); err != nil || n != len(want) {
		return false
	}
	mac := i.macs.Get().(hash.Hash)
	defer i.macs.Put(mac)
	mac.Reset()
	_, _ = io.WriteString(mac, signed) // a hash never fails to write
	var got [sha256.Size]byte
	return hmac.Equal(mac.Sum(got[:0]), want[:])
}

func isTokenByte(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.'
}
