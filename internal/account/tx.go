package account

import (
	"context"
	"time"
)

// trackingTx notes the users and sessions a transaction changes, for
// inTx to drop from the authCache once it ends.
type trackingTx struct {
	Tx
	users    []int64
	sessions []string
}

func (t *trackingTx) UpdatePassword(ctx context.Context, userID int64, hash string, at time.Time) error {
	t.users = append(t.users, userID)
	return t.Tx.UpdatePassword(ctx, userID, hash, at)
}

func (t *trackingTx) SetLoginFailures(ctx context.Context, userID int64, failed int, lockedUntil, at time.Time) error {
	t.users = append(t.users, userID)
	return t.Tx.SetLoginFailures(ctx, userID, failed, lockedUntil, at)
}

func (t *trackingTx) RevokeSessions(ctx context.Context, userID int64, except, reason string, at time.Time) (int, error) {
	t.users = append(t.users, userID)
	return t.Tx.RevokeSessions(ctx, userID, except, reason, at)
}

func (t *trackingTx) RevokeSession(ctx context.Context, id, reason string, at time.Time) error {
	t.sessions = append(t.sessions, id)
	return t.Tx.RevokeSession(ctx, id, reason, at)
}

func (t *trackingTx) SetChatID(ctx context.Context, userID, chatID int64, at time.Time) error {
	t.users = append(t.users, userID)
	return t.Tx.SetChatID(ctx, userID, chatID, at)
}

func (t *trackingTx) ConfirmChat(ctx context.Context, userID, chatID int64, at time.Time) error {
	t.users = append(t.users, userID)
	return t.Tx.ConfirmChat(ctx, userID, chatID, at)
}

// inTx runs fn in one write transaction of the store and, when the
// Service caches authentication, drops from the cache whatever fn
// changed, whether or not the transaction committed. Every use case
// writes through it.
func (s *Service) inTx(ctx context.Context, fn func(Tx) error) error {
	if s.auth == nil {
		return s.store.InTx(ctx, fn)
	}
	var users []int64
	var sessions []string
	err := s.store.InTx(ctx, func(tx Tx) error {
		t := &trackingTx{Tx: tx}
		err := fn(t)
		users, sessions = append(users, t.users...), append(sessions, t.sessions...)
		return err
	})
	s.auth.invalidate(users, sessions)
	return err
}
