package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tgauth/internal/password"
	"tgauth/internal/token"
)

// Lockout: after MaxFailedLogins failed logins in a row an account refuses
// logins for LockDuration.
const (
	MaxFailedLogins = 10
	LockDuration    = 15 * time.Minute
)

// Options tune a Service. Zero values take the defaults noted.
type Options struct {
	AccessTTL time.Duration    // 1h
	Now       func() time.Time // time.Now
}

// Service carries out tgauth's use cases, each in one transaction.
type Service struct {
	store     Store
	hasher    *password.Hasher
	tokens    *token.Issuer
	accessTTL time.Duration
	now       func() time.Time
}

// NewService returns a Service over store that hashes with hasher and signs
// tokens with tokens.
func NewService(store Store, hasher *password.Hasher, tokens *token.Issuer, opts Options) *Service {
	s := &Service{store: store, hasher: hasher, tokens: tokens, accessTTL: opts.AccessTTL, now: opts.Now}
	if s.accessTTL <= 0 {
		s.accessTTL = time.Hour
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// clock returns the time a use case runs at: read once, UTC, to the
// microsecond so that what is stored reads back equal.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error {
	return s.store.Ping(ctx)
}

// Authenticate checks an access token and that its session is still live.
// It returns ErrInvalidToken for any token that must not be honoured.
func (s *Service) Authenticate(ctx context.Context, raw string) (Principal, error) {
	c, err := s.tokens.Parse(raw, token.Access)
	if err != nil {
		return Principal{}, ErrInvalidToken
	}
	sess, err := s.store.Session(ctx, c.SessionID)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, ErrInvalidToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if sess.UserID != c.UserID || !sess.Live(s.clock()) {
		return Principal{}, ErrInvalidToken
	}
	return Principal{UserID: c.UserID, SessionID: c.SessionID, Role: Role(c.Role)}, nil
}

// Profile returns the principal's own account.
func (s *Service) Profile(ctx context.Context, pr Principal) (*User, error) {
	u, err := s.store.UserByID(ctx, pr.UserID)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return u, nil
}
