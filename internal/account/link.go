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
// it carries 256 random bits, so no key is needed against guessing. It
// returns ErrUnavailable when no bot username is configured.
func (s *Service) CreateLink(ctx context.Context, pr Principal) (*Link, error) {
	if s.botUsername == "" {
		return nil, fmt.Errorf("create link: telegram.bot_username is not set: %w", ErrUnavailable)
	}
	now := s.clock()
	code := randomID(32)
	c := &LinkCode{
		CodeHash:  linkCodeHash(code),
		UserID:    pr.UserID,
		CreatedAt: now,
		ExpiresAt: now.Add(LinkCodeTTL),
	}
	err := s.inTx(ctx, func(tx Tx) error { return tx.InsertLinkCode(ctx, c) })
	if err != nil {
		return nil, fmt.Errorf("create link: %w", err)
	}
	return &Link{URL: "https://t.me/" + s.botUsername + "?start=" + code, ExpiresAt: c.ExpiresAt}, nil
}

func linkCodeHash(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}
