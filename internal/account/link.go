package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// LinkCodeTTL is how long a deep link to bind a chat stays usable.
const LinkCodeTTL = 15 * time.Minute

// Link is a Telegram deep link that binds the chat which opens it to an
// account.
type Link struct {
	URL       string
	ExpiresAt time.Time
}

// CreateLink makes a single-use deep link for the principal's user:
// https://t.me/<bot>?start=<code>, the code 43 characters of [A-Za-z0-9_-]
// as Telegram's start parameter allows. Only the code's SHA-256 is stored:
// it carries 256 random bits, so no key is needed against guessing.
//
// The link can move the account away from the chat it has, which then
// gets the reset codes, so an access token alone is not enough: the
// current password is checked as change-password checks it (a wrong one,
// or any while the account is locked to pr.IP's network, is a
// *WrongPasswordError and counts as a failed login). The link may replace
// only the chat the account has now, and the session asking is the one a
// move leaves signed in. It returns ErrUnavailable when no bot username is
// configured.
func (s *Service) CreateLink(ctx context.Context, pr Principal, password string) (*Link, error) {
	if s.botUsername == "" {
		return nil, fmt.Errorf("create link: telegram.bot_username is not set: %w", ErrUnavailable)
	}
	var ve ValidationError
	validatePresented(&ve, FieldCurrentPassword, password)
	if err := ve.Err(); err != nil {
		return nil, err
	}
	u, err := s.store.UserByID(ctx, pr.UserID)
	if err != nil {
		return nil, fmt.Errorf("create link: %w", err)
	}
	ok, now, err := s.checkPassword(ctx, u, password, pr.IP)
	if err != nil {
		return nil, fmt.Errorf("create link: %w", err)
	}
	if !ok {
		return nil, &WrongPasswordError{Field: FieldCurrentPassword}
	}
	code := randomID(32)
	c := &LinkCode{
		CodeHash:       linkCodeHash(code),
		UserID:         u.ID,
		ReplacesChatID: u.ChatID,
		SessionID:      pr.SessionID,
		CreatedAt:      now,
		ExpiresAt:      now.Add(LinkCodeTTL),
	}
	err = s.inTx(ctx, func(tx Tx) error { return tx.InsertLinkCode(ctx, c) })
	if err != nil {
		return nil, fmt.Errorf("create link: %w", err)
	}
	return &Link{URL: "https://t.me/" + s.botUsername + "?start=" + code, ExpiresAt: c.ExpiresAt}, nil
}

func linkCodeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}
