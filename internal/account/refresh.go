package account

import (
	"context"
	"errors"
	"fmt"

	"tgauth/internal/token"
)

// Refresh trades a refresh token for a new pair and rotates the session:
// its generation goes up, so the token just used is spent. A spent token
// presented again is a reuse (RFC 9700): the session is revoked, its chat
// told, and ErrInvalidToken returned, as for any token that is malformed,
// expired or names a revoked session.
func (s *Service) Refresh(ctx context.Context, raw string) (*Tokens, error) {
	if raw == "" {
		var ve ValidationError
		ve.Add(FieldRefreshToken, "is required")
		return nil, ve.Err()
	}
	c, err := s.tokens.Parse(raw, token.Refresh)
	if err != nil {
		return nil, ErrInvalidToken
	}
	now := s.clock()
	var (
		u      *User
		sess   *Session
		reused bool
	)
	err = s.inTx(ctx, func(tx Tx) error {
		var err error
		if sess, err = tx.Session(ctx, c.SessionID); err != nil {
			return err
		}
		if sess.UserID != c.UserID || !sess.Live(now) {
			return ErrInvalidToken
		}
		if u, err = tx.UserByID(ctx, sess.UserID); err != nil {
			return err
		}
		if c.Generation != sess.Generation {
			reused = true
			if err := tx.RevokeSession(ctx, sess.ID, RevokeRefreshReused, now); err != nil {
				return err
			}
			return queueNotice(ctx, tx, u, NoticeRefreshReused, Notice{
				At: now, SessionID: sess.ID, IP: sess.IP, UserAgent: sess.UserAgent,
			})
		}
		sess.Generation++
		sess.LastUsedAt = now
		return tx.UpdateSession(ctx, sess)
	})
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalidToken) || reused {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	return s.issue(u, sess, now)
}
