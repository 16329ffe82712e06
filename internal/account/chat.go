package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// What the Telegram bot does for the people who write to it. Every method
// takes the chat the request came from and acts only on accounts linked to
// that chat, so a chat learns nothing about other accounts.

// BindChat links chatID to the account that asked for the deep link whose
// code this is, spends the code, and queues an "account linked" notice to
// the chat; opening the link confirms the chat. When the account had
// another chat, it moves: the old chat is told, and every session but the
// one that asked for the link ends. It returns ErrInvalidCode for an
// unknown, used or expired code, and for one made while the account had
// another chat than it has now.
func (s *Service) BindChat(ctx context.Context, code string, chatID int64) (*User, error) {
	if code == "" || len(code) > 64 || chatID <= 0 {
		return nil, ErrInvalidCode
	}
	now := s.clock()
	var u *User
	err := s.inTx(ctx, func(tx Tx) error {
		hash := linkCodeHash(code)
		c, err := tx.LinkCode(ctx, hash)
		if errors.Is(err, ErrNotFound) {
			return ErrInvalidCode
		}
		if err != nil {
			return err
		}
		if !c.ConsumedAt.IsZero() || !now.Before(c.ExpiresAt) {
			return ErrInvalidCode
		}
		if u, err = tx.UserByID(ctx, c.UserID); err != nil {
			return err
		}
		if u.ChatID != 0 && u.ChatID != chatID && u.ChatID != c.ReplacesChatID {
			return ErrInvalidCode // the password proved a move from another chat
		}
		if err := tx.ConsumeLinkCode(ctx, hash, now); err != nil {
			return err
		}
		if err := tx.SetChatID(ctx, u.ID, chatID, now); err != nil {
			return err
		}
		old := *u
		u.ChatID, u.ChatConfirmedAt = chatID, now
		if old.ChatID != 0 && old.ChatID != chatID {
			if err := queueNotice(ctx, tx, &old, NoticeChatMoved, Notice{At: now}); err != nil {
				return err
			}
			if _, err := tx.RevokeSessions(ctx, u.ID, c.SessionID, RevokeChatMoved, now); err != nil {
				return err
			}
		}
		return queueNotice(ctx, tx, u, NoticeAccountLinked, Notice{At: now})
	})
	if err != nil {
		return nil, fmt.Errorf("bind chat: %w", err)
	}
	return u, nil
}

// AnswerChatClaim records a chat's answer to the question a registration
// sent it: yes confirms the account's chat, no unlinks it. It returns
// ErrNotFound when the account does not name chatID (any more).
func (s *Service) AnswerChatClaim(ctx context.Context, chatID, userID int64, yes bool) (*User, error) {
	now := s.clock()
	var u *User
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if u, err = tx.UserByID(ctx, userID); err != nil {
			return err
		}
		switch {
		case u.ChatID != chatID:
			return ErrNotFound
		case !yes:
			return tx.SetChatID(ctx, u.ID, 0, now)
		case u.ChatConfirmed():
			return nil
		}
		return tx.ConfirmChat(ctx, u.ID, chatID, now)
	})
	if err != nil {
		return nil, fmt.Errorf("answer chat claim: %w", err)
	}
	return u, nil
}

// ChatAccounts returns the accounts whose confirmed chat is chatID, oldest
// first.
func (s *Service) ChatAccounts(ctx context.Context, chatID int64) ([]User, error) {
	users, err := s.store.UsersByChat(ctx, chatID)
	if err != nil {
		return nil, fmt.Errorf("chat accounts: %w", err)
	}
	return slices.DeleteFunc(users, func(u User) bool { return !u.ChatConfirmed() }), nil
}

// linkedUser returns the user if its confirmed chat is chatID, else
// ErrNotFound.
func linkedUser(ctx context.Context, tx Tx, userID, chatID int64) (*User, error) {
	u, err := tx.UserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if u.ChatID != chatID || !u.ChatConfirmed() {
		return nil, ErrNotFound
	}
	return u, nil
}

// ResetFromChat sends a chat reset code (ChatCodeDigits long, paused by no
// guesser) for the account userID, which must be linked to chatID, to
// that chat, and returns the account. It reports
// whether a code was queued: false when one went out less than
// CodeResendInterval ago. It returns ErrNotFound when the account is not
// linked to the chat.
func (s *Service) ResetFromChat(ctx context.Context, chatID, userID int64) (*User, bool, error) {
	now := s.clock()
	var (
		u      *User
		queued bool
	)
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if u, err = linkedUser(ctx, tx, userID, chatID); err != nil {
			return err
		}
		queued, err = s.queueResetCode(ctx, tx, u, PurposePasswordResetChat, now)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("reset from chat: %w", err)
	}
	return u, queued, nil
}

// UnlinkChat unlinks the account userID from chatID. It returns
// ErrNotFound when the account is not linked to the chat.
func (s *Service) UnlinkChat(ctx context.Context, chatID, userID int64) (*User, error) {
	now := s.clock()
	var u *User
	err := s.inTx(ctx, func(tx Tx) error {
		var err error
		if u, err = linkedUser(ctx, tx, userID, chatID); err != nil {
			return err
		}
		return tx.SetChatID(ctx, u.ID, 0, now)
	})
	if err != nil {
		return nil, fmt.Errorf("unlink chat: %w", err)
	}
	return u, nil
}

// SignOutFromChat answers "Not me" under a new-sign-in notice: it revokes
// every session of the user the session belongs to, which must be linked
// to chatID, and queues a "signed out everywhere" notice. It returns
// ErrNotFound for an unknown session or one whose user is not linked to
// the chat.
func (s *Service) SignOutFromChat(ctx context.Context, chatID int64, sessionID string) (*User, error) {
	now := s.clock()
	var u *User
	err := s.inTx(ctx, func(tx Tx) error {
		sess, err := tx.Session(ctx, sessionID)
		if err != nil {
			return err
		}
		if u, err = linkedUser(ctx, tx, sess.UserID, chatID); err != nil {
			return err
		}
		return revokeAll(ctx, tx, u, now)
	})
	if err != nil {
		return nil, fmt.Errorf("sign out from chat: %w", err)
	}
	return u, nil
}

// revokeAll revokes every live session of u and, when there was one, tells
// its chat.
func revokeAll(ctx context.Context, tx Tx, u *User, now time.Time) error {
	n, err := tx.RevokeSessions(ctx, u.ID, "", RevokeSignedOut, now)
	if err != nil || n == 0 {
		return err
	}
	return queueNotice(ctx, tx, u, NoticeSignedOut, Notice{At: now})
}
