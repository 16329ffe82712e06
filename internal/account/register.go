package account

import (
	"context"
	"fmt"
	"time"
)

// RegisterParams is what a Watchdog registration supplies.
type RegisterParams struct {
	Username string
	Password string
	// ChatID is the Telegram chat id to link, as the client sent it.
	ChatID string
}

// validate returns the chat id to link, or a *ValidationError listing every
// broken rule.
func (p RegisterParams) validate() (int64, error) {
	var ve ValidationError
	validateUsername(&ve, FieldUsername, p.Username)
	validateNewPassword(&ve, FieldPassword, p.Password, p.Username)
	chatID, msg := parseChatID(p.ChatID)
	if msg != "" {
		ve.Add(FieldChatID, msg)
	}
	return chatID, ve.Err()
}

// Register creates a user with a username and a chat, and queues to that
// chat, in the same transaction, the question whether it wants the account:
// until it answers yes, the chat is only claimed and gets nothing else,
// since anyone can type any chat id. It returns
// a *ValidationError for bad input and a *ConflictError when the username is
// taken (compared case-insensitively).
func (s *Service) Register(ctx context.Context, p RegisterParams) (*User, error) {
	chatID, err := p.validate()
	if err != nil {
		return nil, err
	}
	u := &User{Username: p.Username, Role: RoleUser, ChatID: chatID}
	if err := s.createUser(ctx, u, p.Password, s.clock()); err != nil {
		return nil, fmt.Errorf("register: %w", err)
	}
	return u, nil
}

// MaxPendingClaims is how many accounts registered in a day may wait for
// one chat's answer: registrations past it still succeed, but their chat
// is not asked, so naming someone's chat id again and again cannot flood
// it.
const MaxPendingClaims = 3

// createUser hashes the password into u, stores u, and, when u has a chat
// with fewer than MaxPendingClaims questions unanswered, queues its
// "confirm chat" question, in one transaction.
func (s *Service) createUser(ctx context.Context, u *User, password string, now time.Time) error {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = now, now, now
	return s.inTx(ctx, func(tx Tx) error {
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		if u.ChatID == 0 {
			return nil
		}
		claims, err := tx.UsersByChat(ctx, u.ChatID)
		if err != nil {
			return err
		}
		pending := 0
		for _, c := range claims {
			if !c.ChatConfirmed() && now.Sub(c.CreatedAt) < 24*time.Hour {
				pending++
			}
		}
		if pending > MaxPendingClaims {
			return nil
		}
		return queueNotice(ctx, tx, u, NoticeConfirmChat, Notice{At: now})
	})
}
