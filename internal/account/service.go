package account

import (
	"cmp"
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
	AccessTTL  time.Duration    // 1h
	RefreshTTL time.Duration    // 720h: how long a session lives
	Now        func() time.Time // time.Now
	// CodeKey keys the HMAC under which verification codes are kept
	// (InitSecret makes one that outlives restarts); random when nil.
	CodeKey []byte
	// BotUsername names the Telegram bot deep links point at; without it
	// CreateLinkCode returns ErrUnavailable.
	BotUsername string
	// ForgotPasswordFloor is the least time ForgotPassword takes, so that
	// its duration does not tell whether the account exists: 100ms.
	ForgotPasswordFloor time.Duration
	// SessionCacheTTL, when positive, lets Authenticate and Profile answer
	// from memory for that long instead of reading the store each time.
	// This Service's own writes (sign-out, password change or reset,
	// refresh reuse, lockout, chat link) drop what they change at once;
	// another process's writes, such as the bot's "Not me", are seen
	// within SessionCacheTTL. 0 (the default) reads the store every time.
	SessionCacheTTL time.Duration
	// Sealer, when set, seals the reset codes the outbox carries (see
	// Sealer); nil keeps them in clear until the bot has sent them.
	Sealer *Sealer
}

// Service carries out tgauth's use cases, each in one transaction.
type Service struct {
	store       Store
	hasher      *password.Hasher
	tokens      *token.Issuer
	accessTTL   time.Duration
	refreshTTL  time.Duration
	now         func() time.Time
	codeKey     []byte
	botUsername string
	forgotFloor time.Duration
	sealer      *Sealer
	auth        *authCache // nil: no caching (it reads through)
}

// NewService returns a Service over store that hashes with hasher and signs
// tokens with tokens.
func NewService(store Store, hasher *password.Hasher, tokens *token.Issuer, opts Options) *Service {
	s := &Service{
		store:       store,
		hasher:      hasher,
		tokens:      tokens,
		accessTTL:   cmp.Or(opts.AccessTTL, time.Hour),
		refreshTTL:  cmp.Or(opts.RefreshTTL, 720*time.Hour),
		now:         opts.Now,
		codeKey:     opts.CodeKey,
		botUsername: opts.BotUsername,
		forgotFloor: cmp.Or(opts.ForgotPasswordFloor, 100*time.Millisecond),
		sealer:      opts.Sealer,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.codeKey) == 0 {
		s.codeKey = []byte(randomID(32))
	}
	if opts.SessionCacheTTL > 0 {
		s.auth = newAuthCache(opts.SessionCacheTTL, s.now)
	}
	return s
}

// clock returns the time a use case runs at: read once, UTC, to the
// microsecond so that what is stored reads back equal.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// Hasher returns the password hasher, whose load (hashes running and
// queued) the transports export as metrics.
func (s *Service) Hasher() *password.Hasher { return s.hasher }

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
	sess, err := s.auth.session(ctx, s.store, c.SessionID)
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
	u, err := s.auth.user(ctx, s.store, pr.UserID)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	return u, nil
}
