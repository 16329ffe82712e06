package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tgauth/internal/token"
)

// LoginParams is what a login supplies, with where it came from.
type LoginParams struct {
	Username  string
	Password  string
	IP        string
	UserAgent string
}

// Tokens is what a successful login hands out.
type Tokens struct {
	Access    string
	ExpiresIn time.Duration
}

// Login checks a username and password and opens a session. It returns
// ErrUnauthorized alike for an unknown username, a wrong password and a
// locked account, after the same work: one password hash.
func (s *Service) Login(ctx context.Context, p LoginParams) (*Tokens, error) {
	var ve ValidationError
	if p.Username == "" {
		ve.Add("username", "is required")
	} else if len(p.Username) > MaxUsernameLen {
		ve.Add("username", fmt.Sprintf("must be at most %d characters", MaxUsernameLen))
	}
	validatePresented(&ve, "password", p.Password)
	if err := ve.Err(); err != nil {
		return nil, err
	}

	u, err := s.store.UserByUsername(ctx, p.Username)
	if errors.Is(err, ErrNotFound) {
		s.hasher.VerifyDummy(ctx, p.Password)
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	ok, err := s.hasher.Verify(ctx, p.Password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	now := s.clock()
	if u.Locked(now) {
		return nil, ErrUnauthorized
	}
	if !ok {
		if err := s.recordFailedLogin(ctx, u.ID, now); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		return nil, ErrUnauthorized
	}
	sess := &Session{
		ID:         randomID(18),
		UserID:     u.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.accessTTL),
		IP:         p.IP,
		UserAgent:  p.UserAgent,
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		// The password may have changed, or the account locked, since
		// the hash was checked outside the transaction.
		if cur.PasswordHash != u.PasswordHash || cur.Locked(now) {
			return ErrUnauthorized
		}
		if cur.FailedLogins != 0 {
			if err := tx.SetLoginFailures(ctx, u.ID, 0, time.Time{}, now); err != nil {
				return err
			}
		}
		return tx.InsertSession(ctx, sess)
	})
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	access, err := s.tokens.Issue(token.Claims{
		UserID:    u.ID,
		SessionID: sess.ID,
		Role:      string(u.Role),
		Type:      token.Access,
		IssuedAt:  now,
		ExpiresAt: sess.ExpiresAt,
	})
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return &Tokens{Access: access, ExpiresIn: s.accessTTL}, nil
}

// recordFailedLogin counts a wrong password against the user. The
// MaxFailedLogins-th in a row locks the account for LockDuration and tells
// its chat.
func (s *Service) recordFailedLogin(ctx context.Context, userID int64, now time.Time) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		failed, lockedUntil := u.FailedLogins+1, u.LockedUntil
		if failed < MaxFailedLogins {
			return tx.SetLoginFailures(ctx, u.ID, failed, lockedUntil, now)
		}
		lockedUntil = now.Add(LockDuration)
		if err := tx.SetLoginFailures(ctx, u.ID, 0, lockedUntil, now); err != nil {
			return err
		}
		return queueNotice(ctx, tx, u, NoticeAccountLocked, Notice{At: now, LockedUntil: lockedUntil})
	})
}
